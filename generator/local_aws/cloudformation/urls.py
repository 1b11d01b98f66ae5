"""URL routing in moto's convention (moto finds ``<backend module>.urls``): moto's own CloudFormation routes."""

from moto.cloudformation.urls import url_bases, url_paths

__all__ = ["url_bases", "url_paths"]
