"""URL routing in moto's convention: the same hosts and paths as moto's servicecatalog, our handlers."""

from moto.servicecatalog.urls import url_bases, url_paths as _moto_paths

from .responses import ServiceCatalogResponse

url_paths = {path: (ServiceCatalogResponse.dispatch if path == "{0}/$" else handler)
             for path, handler in _moto_paths.items()}

__all__ = ["url_bases", "url_paths"]
