"""Browser of the HDFS base path: files and bytes per directory, like `hdfs dfs -count`."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ecomdesk.data.readers import DirStats
from ecomdesk.ui import fmt


class HdfsBrowser(QWidget):
    refresh_requested = Signal()

    def __init__(self, base_path: str, parent=None):
        super().__init__(parent)
        self.base_path = base_path
        self.refresh = QPushButton("Refresh")
        self.refresh.setToolTip(f"List the files and bytes under {base_path} on HDFS again")
        self.status = QLabel(f"Base path {base_path}")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Directory", "Files", "Size", "Last modified"])
        self.tree.setColumnWidth(0, 420)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.refresh)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        self.refresh.clicked.connect(self.refresh_requested)

    def show_listing(self, dirs: list[DirStats]) -> None:
        expanded = {it.data(0, 256) for it in self._items() if it.isExpanded()}
        self.tree.clear()
        if not dirs:
            self.status.setText(f"{self.base_path} does not exist yet (nothing written)")
            return
        items: dict[str, QTreeWidgetItem] = {}
        for d in dirs:
            parent_path = d.path.rsplit("/", 1)[0] or "/"
            parent = items.get(parent_path)
            label = d.path if parent is None else d.path.rsplit("/", 1)[1]
            item = QTreeWidgetItem([label, f"{d.files:,}", fmt.size(d.bytes), fmt.clock(d.modified)])
            item.setData(0, 256, d.path)
            (parent.addChild(item) if parent is not None else self.tree.addTopLevelItem(item))
            items[d.path] = item
            item.setExpanded(d.path in expanded or parent is None)
        root = dirs[0]
        self.status.setText(f"{root.path}: {root.files:,} files, {fmt.size(root.bytes)}")

    def show_error(self, message: str) -> None:
        self.status.setText(f"Cannot list {self.base_path}: {message}")

    def _items(self):
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            assert item is not None  # every index is in range
            yield item
            stack.extend(item.child(i) for i in range(item.childCount()))
