"""Replaces pyinstaller-hooks-contrib's torch hook for LCI Studio's standalone build.

The stock hook collects every torch submodule as a hidden import (importing each one to find
them: most of a 30-minute build) and the headers' neighbours. The app runs inference and the
`lci` commands; PyInstaller's import analysis finds what those import, and the spec excludes
the compiler stack (`torch._dynamo`, `torch._inductor`, sympy) that only torch.compile and
training's optimizers load.
"""

from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs, get_package_paths

# Sources too (23 MB): torch's config modules read their own source at import (inspect.getsource).
module_collection_mode = "pyz+py"
warn_on_missing_hiddenimports = False

datas = collect_data_files(
    "torch",
    excludes=[
        "**/*.h", "**/*.hpp", "**/*.cuh", "**/*.cpp", "**/*.pyi", "**/*.cmake", "**/*.lib",
        "include/**", "share/**", "bin/**", "test/**", "testing/_internal/**",
        "_inductor/**", "_dynamo/**", "utils/benchmark/**", "utils/model_dump/**",
    ],
)
_TEST_LIBRARIES = ("libtorchbind_test", "libjitbackend_test", "libbackend_with_compiler", "libaoti_custom_ops")
binaries = [
    (src, dest)
    for src, dest in collect_dynamic_libs("torch", search_patterns=["*.so", "*.so.*"])
    if not any(name in src for name in _TEST_LIBRARIES)
]
# `import torch` insists on finding its shared-memory helper; the rest of torch/bin is tests and protoc.
binaries.append((str(Path(get_package_paths("torch")[1]) / "bin" / "torch_shm_manager"), "torch/bin"))
# torch finds its libraries in torch/lib; links to them at the top level confuse it.
bindepend_symlink_suppression = ["**/torch/lib/*.so*"]
