"""The app on a Linux desktop: its menu entry and icons, and whether Qt can open a window here (no Qt imports)."""
