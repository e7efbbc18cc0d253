#!/usr/bin/env python3
"""Writes a docker-archive of one image whose single layer holds SIZE_MB of data: many
small files plus a few large ones, like a real application layer. Used by the
benchmarks; deterministic for a given size (seeded), so runs compare like with like."""
import hashlib, io, json, random, sys, tarfile

out, size_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
target = size_mb << 20
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    written, i = 0, 0
    # A few large files: a quarter of the size each for the first half.
    for n in range(2):
        data = rng.randbytes(target // 4)
        info = tarfile.TarInfo(f"opt/big/blob{n}.bin"); info.size = len(data); info.mtime = 0
        t.addfile(info, io.BytesIO(data)); written += len(data)
    # Then many small files (1-16 KiB) across nested directories.
    while written < target:
        data = rng.randbytes(rng.randint(1024, 16384))
        info = tarfile.TarInfo(f"usr/share/app/d{i % 97}/e{i % 13}/f{i}.dat"); info.size = len(data); info.mtime = 0
        t.addfile(info, io.BytesIO(data)); written += len(data); i += 1
layer_bytes = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created_by": f"bench layer of {size_mb} MB"}],
}).encode()
config_id = hashlib.sha256(config).hexdigest()
with tarfile.open(out, "w") as t:
    def add(name, data):
        info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 0
        t.addfile(info, io.BytesIO(data))
    add(f"{diff_id[7:]}/layer.tar", layer_bytes)
    add(f"{config_id}.json", config)
    add("manifest.json", json.dumps([{"Config": f"{config_id}.json", "RepoTags": ["bench:load"], "Layers": [f"{diff_id[7:]}/layer.tar"]}]).encode())
print(f"sha256:{config_id}")
