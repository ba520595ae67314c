"""One registry of OpenVINO op translations.

A translation turns one OpenVINO op into the ONNX-named node(s) it stands for, so that the cost
rules, registered under ONNX op types in :mod:`modelprof.costs`, are written once for every
frontend. It is a plain function ``(builder, op, ins, in_keys, outs) -> None``: ``ins`` and
``outs`` are the tensor names of the op's inputs and outputs, ``in_keys`` the (op name, output
index) each input comes from, and it adds nodes with :meth:`Builder.emit
<modelprof.frontends.openvino.builder.Builder.emit>`. Each op family has its own module
(:mod:`.conv`, :mod:`.matmul`, :mod:`.pool`, :mod:`.activations`, :mod:`.norm`,
:mod:`.movement`), whose translations register here when the package is imported.

Each OpenVINO op kind has at most one translation: registering a second one is an error, so a
translation added to one family cannot silently shadow another's. An op kind with no
translation is renamed to its ONNX counterpart when it has one, else keeps its OpenVINO name
(so it is reported as unsupported, never silently zero); the builder decides that, and it
handles the weight-only transforms (decompression, a weight ``FakeQuantize``) before it looks
here. The package hands :meth:`Registry.lookup` of :data:`REGISTRY` to every builder it makes.
"""

from __future__ import annotations

from collections.abc import Callable

from .builder import Translation


class Registry:
    """Maps OpenVINO op kinds (``op.get_type_name()``) to translations."""

    def __init__(self) -> None:
        self._translations: dict[str, Translation] = {}

    def register(self, kind: str, translation: Translation) -> None:
        # a ValueError, not a ModelprofError: only modelprof's own code registers translations,
        # so a duplicate is a bug in modelprof, never something a user can cause
        if kind in self._translations:
            raise ValueError(f"an OpenVINO translation for '{kind}' is already registered")
        self._translations[kind] = translation

    def translation(self, *kinds: str) -> Callable[[Translation], Translation]:
        """Decorator form of :meth:`register` for one or more op kinds."""

        def decorate(fn: Translation) -> Translation:
            for kind in kinds:
                self.register(kind, fn)
            return fn

        return decorate

    def lookup(self, kind: str) -> Translation | None:
        return self._translations.get(kind)

    def __contains__(self, kind: str) -> bool:
        return kind in self._translations

    def kinds(self) -> tuple[str, ...]:
        """Every op kind with a translation, sorted."""
        return tuple(sorted(self._translations))


#: The one registry the translations live in.
REGISTRY = Registry()
