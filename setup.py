"""Package discovery that pyproject.toml cannot express: optimizer/ installs as tfjs_lite.optimizer."""

from setuptools import find_packages, setup

OPTIMIZER_PACKAGES = ["tfjs_lite.optimizer"] + [
    f"tfjs_lite.optimizer.{name}" for name in find_packages("optimizer")
]
PACKAGE_DIRS = {"tfjs_lite": "tfjs_lite", "tfjs_lite.optimizer": "optimizer"}

setup(
    packages=find_packages(include=["tfjs_lite", "tfjs_lite.*"]) + OPTIMIZER_PACKAGES,
    package_dir=PACKAGE_DIRS,
)
