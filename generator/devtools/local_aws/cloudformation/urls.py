"""URL routing in moto's convention (moto finds ``<backend module>.urls``): moto's paths, our responses."""

from moto.cloudformation.urls import url_bases
from moto.cloudformation.urls import url_paths as _moto_paths

from .responses import CloudFormationResponse

url_paths = {path: (CloudFormationResponse.dispatch if path == "{0}/$" else handler)
             for path, handler in _moto_paths.items()}

__all__ = ["url_bases", "url_paths"]
