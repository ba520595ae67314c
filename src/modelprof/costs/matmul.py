"""Matrix products: Gemm, MatMul (batched, broadcast), Einsum, and fused attention."""

from __future__ import annotations

from math import prod

from .norm import SOFTMAX_FLOPS_PER_ELEMENT
from .registry import REGISTRY, Cost, MissingShapeError, OpCall, mac_cost


@REGISTRY.rule("Gemm")
def gemm(call: OpCall) -> Cost:
    """MACs = M x K x N (transA/transB honoured); alpha/beta scaling and the C (bias) add are
    not counted, the latter unless bias counting is on (M x N adds)."""
    a = call.in_shape(0)
    k = a[0] if call.attrs.get("transA", 0) else a[1]
    out = call.out_shape()
    macs = prod(out) * k
    bias = prod(out) if call.count_bias and call.has_input(2) else 0
    return mac_cost(macs, bias)


@REGISTRY.rule("MatMul")
def matmul(call: OpCall) -> Cost:
    """MACs = output elements x K, K the shared (last) dim of A; covers batched, broadcast and
    1-D operands alike, since every output element is one length-K dot product."""
    k = call.in_shape(0)[-1]
    return mac_cost(call.out_numel() * k)


@REGISTRY.rule("aten::_grouped_mm")
def grouped_mm(call: OpCall) -> Cost:
    """A grouped GEMM (``torch._grouped_mm``: a mixture of experts' per-expert matmuls in one
    call): MACs = output elements x K (A's last dim), divided by the number of groups when
    both operands are 2-D; that is the sum over groups g of m_g x k_g x n_g.

    With ``offs`` the group boundaries along the jagged dim of a 2-D operand:

    - A (M, K), B (G, K, N) -> (M, N): rows of A split into groups: sum m_g x K x N = M K N;
    - A (G, M, K), B (G, K, N) -> (G, M, N): plain batched: G M K N;
    - A (G, M, K), B (K, N) -> (M, N): columns of B split: sum M x K x n_g = M K N;
    - A (M, K), B (K, N) -> (G, M, N): the shared K split: sum M x k_g x N = M K N.

    Rules see shapes, not the offsets: the totals are exact when the groups cover the whole
    jagged dim, as the token counts per expert that transformers passes do (rows past
    ``offs[-1]`` are skipped by the kernel and would be overcounted)."""
    a, out = call.in_shape(0), call.out_shape()
    macs = call.out_numel() * a[-1]
    if len(a) == 2 and len(call.in_shape(1)) == 2:
        macs = macs // out[0] if out[0] else 0
    return mac_cost(macs)


@REGISTRY.rule("Attention")
def attention(call: OpCall) -> Cost:
    """ONNX Attention (opset 23): MACs = B x Hq x L x S x (E + Ev) for the two products;
    FLOPs add 1 (scale) + 5 (softmax) per score, and 1 per score for an additive mask."""
    q, k, v = call.in_shape(0), call.in_shape(1), call.in_shape(2)
    if len(q) == 4:
        batch, heads, seq_q, head = q
        seq_kv, head_v = k[2], v[3]
    else:  # 3-D (B, L, H*E) with the head counts as attributes
        heads = int(call.attrs.get("q_num_heads") or 0)
        kv_heads = int(call.attrs.get("kv_num_heads") or 0)
        if not heads or not kv_heads:
            raise MissingShapeError("3-D Attention inputs need q_num_heads and kv_num_heads")
        batch, seq_q = q[0], q[1]
        head = q[2] // heads
        seq_kv, head_v = k[1], v[2] // kv_heads
    if call.has_input(4):  # past_key: (B, H, P, E)
        seq_kv += call.in_shape(4)[2]
    scores = batch * heads * seq_q * seq_kv
    extra = scores * (1 + SOFTMAX_FLOPS_PER_ELEMENT) + (scores if call.has_input(3) else 0)
    return mac_cost(scores * (head + head_v), extra)


def _einsum_terms(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Split an einsum equation into per-operand index strings, expanding '...'."""
    eq = equation.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    used = set(eq.replace(".", "").replace(",", "").replace("-", "").replace(">", ""))
    spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in used]
    ell_rank = 0
    for term, rank in zip(terms, ranks, strict=True):
        if "..." in term:
            ell_rank = max(ell_rank, rank - (len(term) - 3))
    ell = "".join(spare[:ell_rank])
    expanded = []
    for term, rank in zip(terms, ranks, strict=True):
        if "..." in term:
            n = rank - (len(term) - 3)
            term = term.replace("...", ell[ell_rank - n :])
        expanded.append(term)
    if "->" not in eq:  # implicit output: letters used once, alphabetical, after the ellipsis
        counts = {c: sum(t.count(c) for t in expanded) for c in set("".join(expanded))}
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return expanded, rhs


@REGISTRY.rule("Einsum")
def einsum(call: OpCall) -> Cost:
    """Contracted left to right, two operands at a time: each step costs the product of the
    sizes of every index either operand carries (one MAC per term). A single operand that
    only sums costs one add per input element."""
    shapes = [call.in_shape(i) for i in range(len(call.inputs))]
    terms, out = _einsum_terms(str(call.attrs["equation"]), [len(s) for s in shapes])
    size: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        for letter, dim in zip(term, shape, strict=True):
            size[letter] = max(size.get(letter, 1), dim)
    if len(terms) == 1:
        # a repeated index (a trace) reads only the diagonal: one element per distinct index
        read = prod(size[c] for c in set(terms[0]))
        summed = read - prod(size[c] for c in out) if set(terms[0]) - set(out) else 0
        return Cost(macs=0, flops=summed)
    macs = 0
    current = terms[0]
    for i, term in enumerate(terms[1:], start=1):
        letters = set(current) | set(term)
        macs += prod(size[c] for c in letters)
        later = set(out).union(*terms[i + 1 :]) if i + 1 < len(terms) else set(out)
        current = "".join(c for c in sorted(letters) if c in later)
    return mac_cost(macs)
