"""Stand-in for `docker push`: put an image manifest into an ECR repository with boto3."""

from __future__ import annotations

import hashlib
import json


def push_image(ecr, repository: str, *tags: str) -> str:
    """Push one image (its manifest only) under each tag; returns the image digest."""
    layer = hashlib.sha256(f"{repository}:{tags[0]}".encode()).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1024,
                "digest": f"sha256:{hashlib.sha256(layer.encode()).hexdigest()}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 4096,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )
    digest = ""
    for tag in tags:
        digest = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)["image"]["imageId"][
            "imageDigest"
        ]
    return digest
