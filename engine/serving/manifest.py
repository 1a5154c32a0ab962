"""KServe ``InferenceService`` manifests: see :mod:`engine.environments.manifest`.

The renderer lives with the environments, since promotion writes the manifest in the
same commit as the pin (and the environments layer sits below serving); this name
stays for readers who look for it beside the server.
"""

from engine.environments.manifest import (
    API_VERSION,
    DEFAULT_IMAGE,
    KIND,
    PinnedModel,
    Serving,
    inference_service,
    manifest_path,
    render,
    service_name,
    storage_uri,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_IMAGE",
    "KIND",
    "PinnedModel",
    "Serving",
    "inference_service",
    "manifest_path",
    "render",
    "service_name",
    "storage_uri",
]
