#!/usr/bin/env python3
"""Writes an OCI image layout (tag v1) of one runnable image: the busybox layer of a
docker-archive, then LAYERS-1 layers of random files, all gzip-compressed, about
SIZE_MB in all. Random data does not compress, so the bytes on the wire are the size
asked for. Deterministic (seeded), so runs compare like with like.

Usage: make-layout.py OUT_DIR BUSYBOX_ARCHIVE SIZE_MB LAYERS"""
import gzip, hashlib, io, json, os, random, sys, tarfile

out, busybox, size_mb, layers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)

def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)

def gz(data):
    # mtime 0 and level 1: fast, and the same bytes every run.
    return gzip.compress(data, compresslevel=1, mtime=0)

with tarfile.open(busybox) as archive:
    manifest = json.load(archive.extractfile("manifest.json"))
    base = archive.extractfile(manifest[0]["Layers"][0]).read()

tars = [base]
per_layer = (size_mb << 20) // max(layers - 1, 1)
for n in range(layers - 1):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        written, i = 0, 0
        while written < per_layer:
            data = rng.randbytes(min(rng.randint(64 << 10, 4 << 20), per_layer - written))
            info = tarfile.TarInfo(f"data/layer{n}/f{i}.bin")
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))
            written += len(data)
            i += 1
    tars.append(buf.getvalue())

descriptors, diff_ids = [], []
for t in tars:
    diff_ids.append("sha256:" + hashlib.sha256(t).hexdigest())
    digest, size = put(gz(t))
    descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
}).encode()
config_digest, config_size = put(config)
image = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
    "layers": descriptors,
}).encode()
image_digest, image_size = put(image)
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image_digest, "size": image_size,
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
print(sum(d["size"] for d in descriptors))
