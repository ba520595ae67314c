"""A fuzz harness for the ``modelprof`` command line.

Why: the CLI's contract is that whatever a user hands it (a broken model, a hostile path, a
corrupt side file, nonsense options) it answers with exit 0, or exit 2 and exactly one line
``modelprof: error: ...`` (1 only from ``check`` and ``--strict``), never a traceback, never
touching its inputs, never running away with memory or time. Unit tests pin the cases someone
thought of; this harness generates the ones nobody did, deterministically from a seed, so every
failure it finds can be regenerated and replayed.

Layout (one module per generator family, each documents what it generates and why):

- :mod:`.case`       what a generated case is, and the workspace generators write into
- :mod:`.runner`     runs one case in a subprocess under limits and checks the contract
- :mod:`.mutate`     byte-level mutations shared by every family
- :mod:`.gen_onnx`   valid small ONNX models, mutated structurally and byte by byte
- :mod:`.gen_ir`     OpenVINO IR files (.xml + .bin), mutated
- :mod:`.gen_side`   corrupt side inputs: --inputs arrays, --rules files, diff reports, configs
- :mod:`.gen_cli`    CLI abuse: option values, special files, links, outputs that are inputs
- :mod:`.gen_pickle` .pt pickles and file.py:factory specs
- :mod:`.catalog`    the families, their weights, and case generation from (seed, index)
- :mod:`.run`        the long-run entry point (``python -m tests.fuzz``) and its summary
- ``test_fuzz.py``   the small CI budget, run by pytest
"""
