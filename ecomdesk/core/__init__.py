"""The Qt-free core: service specs, the generic supervisor and its helpers."""
