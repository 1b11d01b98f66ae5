"""URL routing in moto's convention: moto's CodeCommit hosts and paths, our handlers."""

from moto.codecommit.urls import url_bases

from .responses import CodeCommitResponse

url_paths = {"{0}/$": CodeCommitResponse.dispatch}

__all__ = ["url_bases", "url_paths"]
