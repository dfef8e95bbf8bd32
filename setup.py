"""Maps the repository folders into the one `distilpose` namespace (see docs/adr/0001-repository-layout.md).

pyproject.toml holds all metadata; setuptools cannot discover packages under a remapped folder from
pyproject alone, so the package list is computed here.
"""

from setuptools import find_packages, setup


def mapped(name: str, folder: str) -> list[str]:
    return [name] + [f"{name}.{sub}" for sub in find_packages(folder)]


setup(
    packages=find_packages(include=["distilpose", "distilpose.*"])
    + mapped("distilpose.app", "app")
    + mapped("distilpose.training", "training"),
)
