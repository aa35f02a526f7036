#!/usr/bin/env python3
"""Edits an OCI image layout (tag's single-manifest image) for the
--from-oci tests, rewriting every digest that the edit changes:

  oci_edit.py decompress SRC DST TAG   copy with uncompressed layers
  oci_edit.py wrong-diff-id DIR TAG    config names another diff_id for
                                       the last layer (digests consistent)
  oci_edit.py tamper-layer DIR TAG     flip a byte inside the last layer blob
  oci_edit.py truncate-layer DIR TAG   cut the last layer blob short
  oci_edit.py index DIR TAG NEWTAG OS/ARCH...
                                       tag NEWTAG: an image index whose
                                       entries, one per platform given,
                                       all name TAG's manifest
"""
import gzip, hashlib, json, os, shutil, sys


def blob_path(d, digest):
    return os.path.join(d, "blobs", "sha256", digest.split(":", 1)[1])


def put_blob(d, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(d, digest), "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def load(d, tag):
    index = json.load(open(os.path.join(d, "index.json")))
    for i, m in enumerate(index["manifests"]):
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            manifest = json.load(open(blob_path(d, m["digest"])))
            return index, i, manifest
    sys.exit("no tag " + tag)


def store(d, index, i, manifest, config=None):
    if config is not None:
        manifest["config"].update(put_blob(d, json.dumps(config).encode()))
    index["manifests"][i].update(put_blob(d, json.dumps(manifest).encode()))
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f)


def main():
    cmd = sys.argv[1]
    if cmd == "decompress":
        src, dst, tag = sys.argv[2:5]
        shutil.copytree(src, dst)
        index, i, manifest = load(dst, tag)
        for layer in manifest["layers"]:
            data = gzip.decompress(open(blob_path(dst, layer["digest"]), "rb").read())
            layer.update(put_blob(dst, data))
            layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
        store(dst, index, i, manifest)
        return
    d, tag = sys.argv[2:4]
    index, i, manifest = load(d, tag)
    if cmd == "index":
        entries = []
        for p in sys.argv[5:]:
            os_, arch = p.split("/")
            e = dict(index["manifests"][i])
            e.pop("annotations", None)
            e["platform"] = {"os": os_, "architecture": arch}
            entries.append(e)
        data = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.index.v1+json",
                           "manifests": entries}).encode()
        top = put_blob(d, data)
        top["mediaType"] = "application/vnd.oci.image.index.v1+json"
        top["annotations"] = {"org.opencontainers.image.ref.name": sys.argv[4]}
        index["manifests"].append(top)
        with open(os.path.join(d, "index.json"), "w") as f:
            json.dump(index, f)
        return
    last = blob_path(d, manifest["layers"][-1]["digest"])
    if cmd == "wrong-diff-id":
        config = json.load(open(blob_path(d, manifest["config"]["digest"])))
        config["rootfs"]["diff_ids"][-1] = "sha256:" + "ab" * 32
        store(d, index, i, manifest, config)
    elif cmd == "tamper-layer":
        data = bytearray(open(last, "rb").read())
        data[len(data) // 2] ^= 0x01
        os.chmod(last, 0o644)
        open(last, "wb").write(data)
    elif cmd == "truncate-layer":
        os.chmod(last, 0o644)
        os.truncate(last, os.path.getsize(last) // 2)
    else:
        sys.exit("unknown command " + cmd)


main()
