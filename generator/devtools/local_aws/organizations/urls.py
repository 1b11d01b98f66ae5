"""URL routing in moto's convention: moto's Organizations hosts, our responses."""

from moto.organizations.urls import url_bases

from .responses import OrganizationsResponse

url_paths = {"{0}/$": OrganizationsResponse.dispatch}

__all__ = ["url_bases", "url_paths"]
