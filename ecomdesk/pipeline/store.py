"""The few file operations the job's committer needs, over pyarrow (tests, readers) or the Spark JVM.

The job writes through the Hadoop FileSystem of its own SparkSession (py4j), so it works on any
Hadoop URI (hdfs://, file://) with Spark's configuration and needs no libhdfs in the driver.
"""

from __future__ import annotations

import posixpath
from typing import Protocol

import pyarrow.fs as pafs


class Store(Protocol):
    def write_bytes(self, rel: str, data: bytes) -> None: ...
    def read_bytes(self, rel: str) -> bytes: ...
    def rename(self, src: str, dst: str) -> None: ...
    def delete(self, rel: str) -> None: ...
    def listdir(self, rel: str) -> list[str]: ...
    def mkdirs(self, rel: str) -> None: ...
    def exists(self, rel: str) -> bool: ...
    def uri(self, rel: str) -> str: ...


class ArrowStore:
    """Store over a pyarrow filesystem and a base path on it."""

    def __init__(self, fs: pafs.FileSystem, base: str):
        self.fs, self.base = fs, base.rstrip("/")

    def _p(self, rel: str) -> str:
        return posixpath.join(self.base, rel) if rel else self.base

    def uri(self, rel: str) -> str:
        return self._p(rel)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.fs.create_dir(posixpath.dirname(self._p(rel)), recursive=True)
        with self.fs.open_output_stream(self._p(rel)) as f:
            f.write(data)

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_stream(self._p(rel)) as f:
            return f.read()

    def rename(self, src: str, dst: str) -> None:
        self.fs.create_dir(posixpath.dirname(self._p(dst)), recursive=True)
        self.fs.move(self._p(src), self._p(dst))

    def delete(self, rel: str) -> None:
        info = self.fs.get_file_info(self._p(rel))
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(self._p(rel))
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(self._p(rel))

    def listdir(self, rel: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(self._p(rel), allow_not_found=True))
        return sorted(i.base_name for i in infos)

    def mkdirs(self, rel: str) -> None:
        self.fs.create_dir(self._p(rel), recursive=True)

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self._p(rel)).type != pafs.FileType.NotFound


class HadoopStore:
    """Store over the Hadoop FileSystem of a SparkSession; `base_uri` like hdfs://host:port/ecommerce."""

    def __init__(self, spark, base_uri: str):
        self.jvm = spark._jvm
        self.base_uri = base_uri.rstrip("/")
        conf = spark._jsc.hadoopConfiguration()
        self.fs = self.jvm.org.apache.hadoop.fs.Path(self.base_uri).getFileSystem(conf)
        self.fs.setWriteChecksum(False)

    def uri(self, rel: str) -> str:
        return f"{self.base_uri}/{rel}" if rel else self.base_uri

    def _p(self, rel: str):
        return self.jvm.org.apache.hadoop.fs.Path(self.uri(rel))

    def write_bytes(self, rel: str, data: bytes) -> None:
        out = self.fs.create(self._p(rel), True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def read_bytes(self, rel: str) -> bytes:
        stream = self.fs.open(self._p(rel))
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def rename(self, src: str, dst: str) -> None:
        parent = posixpath.dirname(dst)
        if parent:
            self.fs.mkdirs(self._p(parent))
        if not self.fs.rename(self._p(src), self._p(dst)):
            raise OSError(f"rename {self.uri(src)} -> {self.uri(dst)} failed")

    def delete(self, rel: str) -> None:
        self.fs.delete(self._p(rel), True)

    def listdir(self, rel: str) -> list[str]:
        if not self.fs.exists(self._p(rel)):
            return []
        return sorted(s.getPath().getName() for s in self.fs.listStatus(self._p(rel)))

    def mkdirs(self, rel: str) -> None:
        self.fs.mkdirs(self._p(rel))

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self._p(rel)))
