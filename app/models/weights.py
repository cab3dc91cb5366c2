"""Model weights: the manifest, sha256 checks, safetensors loading and strict state_dict loading.

Where weights live
    ``WEIGHTS_DIR`` (the repository's ``weights/`` folder, or ``$LUMAFUSE_WEIGHTS_DIR``) holds
    ``manifest.json`` and the ``*.safetensors`` files it names. The manifest maps a weights key
    (``MethodSpec.weights_key``, e.g. ``"deepfuse"``) to an entry::

        {"deepfuse": {"file": "deepfuse-v1.safetensors", "sha256": "<64 hex>",
                      "arch": "deepfuse-v1", "config": "app/training/configs/deepfuse.toml",
                      "data": "...", "steps": 12000, "seed": 0, "metrics": {...},
                      "licence": "BSD-3-Clause"}}

    Only ``file`` and ``sha256`` are required to load; ``arch`` is checked against the file's
    header when both are present.

File format
    safetensors only (never a pickle). The header metadata (str -> str) carries ``arch`` (the
    architecture id) and ``hparams`` (a JSON object of the keyword arguments of the module's
    ``build_model``); :func:`hparams` decodes it. :func:`export` writes a file in this form and
    records it in the manifest (used by ``app.training``).

Loading
    :func:`load_weights` verifies the sha256 against the manifest before deserialising, then
    :func:`load_into` loads the tensors with ``load_state_dict(strict=True)``. Every failure
    (no manifest entry, missing file, hash mismatch, unreadable file, architecture mismatch,
    missing / unexpected keys or wrong shapes) raises :class:`~app.core.errors.WeightsError` with
    a one-line message. Key clean-up belongs in :func:`export`, never at load time.

Random-initialisation hook (contract tests, no trained file needed)
    Every learned-method module exposes ``build_model(**hparams) -> torch.nn.Module`` and, in its
    entry point, loads weights through the module attribute ``weights.load_into(model, key)``
    (``from app.models import weights`` then ``weights.load_into(...)``, not ``from ... import
    load_into``). Tests replace ``app.models.weights.load_into`` (and ``status``) with
    monkeypatch; the model then keeps its random initialisation and the method runs end to end.
    See tests/models/test_contract.py.

torch and safetensors are imported inside functions only: the registry calls :func:`status` to
list methods, and listing must work (and stay fast) without torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np

from app.core.errors import InputError, WeightsError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

MANIFEST_NAME = "manifest.json"


def _default_dir() -> Path:
    env = os.environ.get("LUMAFUSE_WEIGHTS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "weights"


WEIGHTS_DIR: Path = _default_dir()
"""Folder of manifest.json and the weight files. Tests may monkeypatch this attribute."""

# (path, mtime_ns, size) -> sha256 ; status/manifest caches keyed by mtime, so a GUI that
# refreshes its method list often never re-reads or re-hashes an unchanged file.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_MANIFEST_CACHE: dict[str, tuple[int, dict[str, Any]]] = {}


def manifest_path() -> Path:
    return Path(WEIGHTS_DIR) / MANIFEST_NAME


def read_manifest() -> dict[str, Any]:
    """The manifest as a dict (empty when the file does not exist). Cached by mtime."""
    path = manifest_path()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    cached = _MANIFEST_CACHE.get(str(path))
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: unreadable weights manifest ({exc})") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: the weights manifest must be a JSON object")
    _MANIFEST_CACHE[str(path)] = (mtime, data)
    return data


def entry(key: str) -> dict[str, Any]:
    """The manifest entry of ``key``; WeightsError when absent or missing ``file``/``sha256``."""
    data = read_manifest()
    item = data.get(key)
    if not isinstance(item, dict):
        raise WeightsError(f"no trained weights for {key!r}: no entry in {manifest_path()}")
    for field in ("file", "sha256"):
        if not isinstance(item.get(field), str) or not item[field]:
            raise WeightsError(f"{manifest_path()}: entry {key!r} lacks {field!r}")
    return item


def weights_file(key: str) -> Path:
    """Path of the weight file of ``key`` (it may not exist)."""
    return Path(WEIGHTS_DIR) / entry(key)["file"]


def status(key: str) -> tuple[bool, str]:
    """(available, reason) for ``key``: a manifest entry exists and its file is there.

    Cheap: no hashing and no torch; the manifest read is cached by mtime. Integrity (sha256) is
    checked when the weights are loaded.
    """
    try:
        path = weights_file(key)
    except WeightsError as exc:
        return False, str(exc)
    if not path.is_file():
        return False, f"weights file {path} is missing"
    if path.stat().st_size == 0:
        return False, f"weights file {path} is empty"
    if path.suffix != ".safetensors":
        return False, f"weights file {path} is not a .safetensors file"
    return True, ""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, cached by (path, mtime, size)."""
    st = path.stat()
    cache_key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    cached = _HASH_CACHE.get(cache_key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    _HASH_CACHE[cache_key] = digest
    return digest


def load_weights(key: str) -> tuple[dict[str, "torch.Tensor"], dict[str, str], str]:
    """(state_dict on CPU, header metadata, sha256) of ``key`` after the manifest hash check."""
    return _load(key, "pt")


def load_numpy(key: str) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """As :func:`load_weights` with numpy arrays, without importing torch (small networks that
    run in numpy: the RL fusion agent)."""
    return _load(key, "numpy")


def _load(key: str, framework: str) -> tuple[dict[str, Any], dict[str, str], str]:
    item = entry(key)
    path = Path(WEIGHTS_DIR) / item["file"]
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path}: only .safetensors weight files are loaded")
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing")
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read weights ({exc.strerror or exc})") from None
    if digest != item["sha256"].lower():
        raise WeightsError(
            f"{path}: sha256 {digest[:12]}... does not match the manifest "
            f"({item['sha256'][:12]}...); the file is corrupt or was replaced"
        )
    from safetensors import safe_open  # lazy: keeps torch out of listing

    try:
        with safe_open(str(path), framework=framework) as fh:
            metadata = dict(fh.metadata() or {})
        if framework == "numpy":
            from safetensors.numpy import load_file as load_np

            tensors = load_np(str(path))
        else:
            from safetensors.torch import load_file

            tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    want_arch = item.get("arch")
    have_arch = metadata.get("arch")
    if want_arch and have_arch and want_arch != have_arch:
        raise WeightsError(
            f"{path}: architecture {have_arch!r} in the file, manifest says {want_arch!r}"
        )
    return tensors, metadata, digest


def hparams(metadata: Mapping[str, str]) -> dict[str, Any]:
    """Decode the ``hparams`` JSON object of a file's metadata ({} when absent)."""
    text = metadata.get("hparams")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise WeightsError(f"weights metadata 'hparams' is not valid JSON: {text[:60]!r}") from None
    if not isinstance(value, dict):
        raise WeightsError("weights metadata 'hparams' must be a JSON object")
    return value


def load_into(
    module: "torch.nn.Module", key: str, *, arch: str | None = None
) -> tuple[dict[str, str], str]:
    """Load the weights of ``key`` into ``module`` strictly; returns (metadata, sha256).

    ``arch``: expected architecture id; a file declaring another one is refused.
    Missing or unexpected keys and shape mismatches raise WeightsError (nothing is renamed).
    """
    tensors, metadata, digest = load_weights(key)
    have = metadata.get("arch")
    if arch is not None and have is not None and have != arch:
        raise WeightsError(
            f"{weights_file(key)}: architecture {have!r} does not match {arch!r} expected by "
            "this version of Lumafuse"
        )
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise WeightsError(
            f"{weights_file(key)}: weights do not fit the model ({detail[:300]})"
        ) from None
    return metadata, digest


def export(
    key: str,
    state_dict: Mapping[str, "torch.Tensor"],
    *,
    arch: str,
    hparams: Mapping[str, Any],
    file: str | None = None,
    manifest_fields: Mapping[str, Any] | None = None,
) -> str:
    """Write ``state_dict`` to ``WEIGHTS_DIR/<file>`` (safetensors) and record it in the manifest.

    The header gets ``arch`` and ``hparams`` (JSON). ``manifest_fields`` (config, data, steps,
    seed, metrics, licence, ...) are stored with ``file``, ``sha256`` and ``arch``. Returns the
    sha256. Tensors are made contiguous CPU copies (safetensors requires it).
    """
    from safetensors.torch import save_file

    file = file or f"{key}.safetensors"
    root = Path(WEIGHTS_DIR)
    root.mkdir(parents=True, exist_ok=True)
    path = root / file
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    meta = {"arch": arch, "hparams": json.dumps(dict(hparams), sort_keys=True)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    digest = sha256_file(path)
    with _manifest_lock():  # two exports at once must not drop each other's entry
        _MANIFEST_CACHE.clear()
        data = dict(read_manifest())
        data[key] = {**dict(manifest_fields or {}), "file": file, "sha256": digest, "arch": arch}
        mtmp = manifest_path().with_name(MANIFEST_NAME + ".tmp")
        mtmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(mtmp, manifest_path())
    return digest


@contextmanager
def _manifest_lock() -> Iterator[None]:
    """Exclusive advisory lock for read-modify-write of the manifest (POSIX; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock_path = Path(WEIGHTS_DIR) / ".manifest.lock"
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when a CUDA device is usable, else "cpu"; "cpu"/"cuda" as asked.

    Raises InputError for an unknown name or "cuda" on a machine without a usable CUDA device.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cpu":
        return "cpu"
    import torch

    has_cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not has_cuda:
        raise InputError("--device cuda: no usable CUDA device on this machine (try --device auto)")
    return "cuda" if has_cuda else "cpu"


def numpy_or_cuda_model(key: str, method: str, device: str, load_torch: "Any",
                        load_numpy: "Any") -> tuple[Any, str, str]:
    """(model, sha256, device used) of a learned method whose network runs in numpy on the CPU
    (so a command never pays torch's import) and as the torch module only when ``device`` is
    "cuda" by name. ``load_torch(dev)`` / ``load_numpy()`` -> (model, sha256); the instance is
    kept as :func:`kept_model` says. InputError for "cuda" without torch installed."""
    if device != "cuda":
        return (*kept_model(key, "numpy", load_numpy), "cpu")
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise InputError(f"{method}: --device cuda needs torch (PyTorch); without it the "
                         "network runs on the CPU")
    dev = resolve_device(device)
    return (*kept_model(key, dev, lambda: load_torch(dev)), dev)


# -- one model instance per batch worker --------------------------------------------------
_kept_models: dict[tuple, tuple[Any, str]] = {}
_keeping = False


@contextmanager
def keeping_models() -> Iterator[None]:
    """Within the block (a batch worker's life), a learned method's loaded network is kept and
    reused for the next bracket instead of being loaded again; dropped at the end. Outside it,
    every run loads its own (a GUI or ``fuse`` run keeps no network in memory afterwards)."""
    global _keeping
    previous, _keeping = _keeping, True
    try:
        yield
    finally:
        _keeping = previous
        if not previous:
            _kept_models.clear()


def kept_model(key: str, device: str, load: "Any") -> tuple[Any, str]:
    """``load()`` -> (model, sha256), or the instance kept from an earlier call with the same
    key, device and weights file (path, mtime, size) while :func:`keeping_models` is on."""
    if not _keeping:
        return load()
    path = weights_file(key)
    try:
        st = path.stat()
        ident = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        return load()  # no file: the loader raises the real message
    cache_key = (key, device, ident)
    if cache_key not in _kept_models:
        for old in [k for k in _kept_models if k[0] == key]:
            del _kept_models[old]  # one instance per method
        _kept_models[cache_key] = load()
    return _kept_models[cache_key]
