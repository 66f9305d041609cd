"""RETRO decoder: causality, chunk alignment, incremental decoding, closed-book, and a literal (per-position,
per-neighbour, unpadded) re-implementation of docs/model-format.md to check the vectorised forward against."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fixtures import init_weights, neighbour_rows
from model import Retro, RetroConfig, apply_rope, drop_neighbours, rope_cos_sin

M = 64


def make_model(seed=0, cca_layers=(1, 2), dtype=torch.float64, **kw):
    cfg = RetroConfig(vocab_size=97, d_model=32, n_layers=3, n_heads=4, d_ff=48, max_seq_len=512, chunk_size=M,
                      neighbour_len=24, num_neighbours=2, cca_layers=list(cca_layers), encoder_layers=2,
                      encoder_n_heads=2, encoder_d_ff=40, **kw)
    return init_weights(Retro(cfg), seed=seed, emb_std=0.5).to(dtype).eval()


def make_inputs(seed, n, model, lengths=None):
    c = model.config
    rng = np.random.default_rng(seed)
    tokens = torch.from_numpy(rng.integers(0, c.vocab_size, (1, n)))
    U = n // M
    if lengths is None:
        lengths = [(c.neighbour_len, c.neighbour_len - 5)] * U
    nb = np.stack([neighbour_rows(rng, l, c.neighbour_len, c.vocab_size) for l in lengths])[None]
    return tokens, torch.from_numpy(nb)


# -----------------------------------------------------------------------------
# literal reference


def rope_literal(x, pos, theta):
    """x (T, hd) at positions pos: the doc's pair formula, in float64."""
    hd = x.shape[-1]
    out = x.clone()
    for j in range(hd // 2):
        ang = pos.double() * theta ** (-2.0 * j / hd)
        c, s = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
        out[:, j] = x[:, j] * c - x[:, j + hd // 2] * s
        out[:, j + hd // 2] = x[:, j + hd // 2] * c + x[:, j] * s
    return out


def mha(proj, xq, xkv, nh, causal=False, rope=None, sink=None):
    """Multi-head attention on 2-D inputs; rope = (q positions, k positions, theta); sink = per-head logits of one
    more key whose value is 0 (cca_sink)."""
    q, k, v = proj.q_proj(xq), proj.k_proj(xkv), proj.v_proj(xkv)
    hd = q.shape[1] // nh
    outs = []
    for h in range(nh):
        qh, kh, vh = (t[:, h * hd:(h + 1) * hd] for t in (q, k, v))
        if rope is not None:
            qh, kh = rope_literal(qh, rope[0], rope[2]), rope_literal(kh, rope[1], rope[2])
        s = qh @ kh.t() / math.sqrt(hd)
        if causal:
            s = s.masked_fill(torch.ones_like(s, dtype=torch.bool).triu(1), float("-inf"))
        if sink is None:
            outs.append(torch.softmax(s, -1) @ vh)
        else:  # the sink's weight exp(sink) joins the denominator and adds nothing
            z = torch.cat([s, sink[h].expand(s.shape[0], 1)], -1).amax(-1, keepdim=True)
            e = torch.exp(s - z)
            outs.append(e @ vh / (e.sum(-1, keepdim=True) + torch.exp(sink[h] - z)))
    return proj.o_proj(torch.cat(outs, -1))


def encode_literal(model, tokens, H):
    """One neighbour without padding: tokens (L,), H (m, D) -> (L, D). With cca_positions "rope" the
    cross-attention puts neighbour token t at position t and chunk state j at j."""
    c = model.config
    e = model.tok_embeddings.weight[tokens]
    pos = torch.arange(len(tokens))
    cross_rope = (pos, torch.arange(H.shape[0]), c.rope_theta) if c.cca_positions == "rope" else None
    for lay in model.encoder.layers:
        e = e + mha(lay.attn, lay.attn_norm(e), lay.attn_norm(e), c.encoder_n_heads, rope=(pos, pos, c.rope_theta))
        e = e + mha(lay.cross, lay.cross_norm(e), H, c.encoder_n_heads, rope=cross_rope)
        e = e + lay.mlp.fc_out(F.gelu(lay.mlp.fc_in(lay.mlp_norm(e))))
    return model.encoder.norm_f(e)


def forward_literal(model, tokens, neighbours=None):
    """tokens (n,), neighbours (U, k, r) or None -> logits (n, V), encoded [u][j] -> (len, D)."""
    c = model.config
    n = len(tokens)
    h = model.tok_embeddings.weight[tokens]
    pos = torch.arange(n)
    enc = None
    for i, lay in enumerate(model.layers):
        if i == c.cca_layers[0] and neighbours is not None:
            enc = [[encode_literal(model, row[row >= 0], h[u * M:(u + 1) * M]) for row in neighbours[u] if (row >= 0).any()]
                   for u in range(neighbours.shape[0])]
            # CCA key positions: each neighbour's own token positions 0..len-1 (trailing padding only here)
            enc_pos = [torch.cat([torch.arange(len(e)) for e in row]) if row else None for row in enc]
        x = lay.attn_norm(h)
        h = h + mha(lay.attn, x, x, c.n_heads, causal=True, rope=(pos, pos, c.rope_theta))
        if i in c.cca_layers and enc is not None:
            x = lay.cca_norm(h)
            add = torch.zeros_like(h)
            for p in range(n):
                u = (p + 1) // M - 1
                if u >= 0 and enc[u]:
                    # the query is the ((p+1) mod m)-th position of its shifted chunk: CCA position m-1 + that
                    rope = ((torch.tensor([(p + 1) % M + M - 1]), enc_pos[u], c.rope_theta)
                            if c.cca_positions == "rope" else None)
                    add[p] = mha(lay.cca, x[p:p + 1], torch.cat(enc[u]), c.n_heads, rope=rope,
                                 sink=getattr(lay.cca, "sink", None))[0]
            h = h + add
        h = h + lay.mlp.fc_out(F.gelu(lay.mlp.fc_in(lay.mlp_norm(h))))
    return model.norm_f(h) @ model.tok_embeddings.weight.t(), enc


# -----------------------------------------------------------------------------


def test_forward_matches_literal_definition():
    model = make_model()
    n = 3 * M + 9
    tokens, nb = make_inputs(1, n, model, lengths=[(24, 10), (7, 0), (0, 0)])
    with torch.no_grad():
        got, E, E_mask = model(tokens, nb, return_encoded=True)
        want, enc = forward_literal(model, tokens[0], nb[0])
    assert (got[0] - want).abs().max() < 1e-10
    for j, L in enumerate((24, 10)):  # encoded neighbours: valid rows equal, padding rows 0
        assert (E[0, 0, j, :L] - enc[0][j]).abs().max() < 1e-10
        assert torch.all(E[0, 0, j, L:] == 0)
    assert E_mask[0, 1].sum() == 7


def test_rope_is_rotate_half_of_the_doc():
    x = torch.randn(5, 2, 7, 16, dtype=torch.float64)
    pos = torch.arange(3, 10)
    cos, sin = rope_cos_sin(pos, 16, 10000.0, torch.float64)
    got = apply_rope(x, cos, sin)
    want = torch.stack([torch.stack([rope_literal(x[a, b], pos, 10000.0) for b in range(2)]) for a in range(5)])
    assert (got - want).abs().max() < 1e-12
    # relative: <rope(q, p), rope(k, p')> depends only on p - p'
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    dots = []
    for p in (0, 40):
        c, s = rope_cos_sin(torch.tensor([p + 5, p]), 16, 10000.0, torch.float64)
        qq = apply_rope(q.view(1, 1, 1, 16), c[:1], s[:1])
        kk = apply_rope(k.view(1, 1, 1, 16), c[1:], s[1:])
        dots.append(float((qq * kk).sum()))
    assert abs(dots[0] - dots[1]) < 1e-10


def test_changing_a_token_changes_nothing_before_it():
    model = make_model(dtype=torch.float32)
    n = 3 * M + 5
    tokens, nb = make_inputs(2, n, model)
    with torch.no_grad():
        base = model(tokens, nb)
        for p in (0, 40, M - 1, M, 2 * M + 3, n - 1):
            t2 = tokens.clone()
            t2[0, p] = (t2[0, p] + 1) % model.config.vocab_size
            out = model(t2, nb)
            assert torch.equal(out[:, :p], base[:, :p]), p
            assert (out[:, p:] - base[:, p:]).abs().max() > 1e-3, p


def test_neighbours_of_chunk_u_reach_exactly_positions_from_64u_plus_63():
    model = make_model(dtype=torch.float32)
    n = 4 * M + 7
    tokens, nb = make_inputs(3, n, model)
    rng = np.random.default_rng(9)
    with torch.no_grad():
        base = model(tokens, nb)
        for u in range(4):
            nb2 = nb.clone()
            nb2[0, u, 0, :5] = torch.from_numpy(rng.integers(0, model.config.vocab_size, 5))
            out = model(tokens, nb2)
            first = M * u + M - 1
            assert torch.equal(out[:, :first], base[:, :first]), u
            assert (out[:, first] - base[:, first]).abs().max() > 1e-3, u  # the chunk's last token sees it
            assert (out[:, first:] - base[:, first:]).abs().max() > 1e-3, u


def test_cca_visibly_changes_logits_and_closed_book_has_no_cca():
    model = make_model()
    n = 2 * M + 30
    tokens, nb = make_inputs(4, n, model)
    with torch.no_grad():
        with_nb = model(tokens, nb)
        closed = model(tokens, None)
        all_absent = model(tokens, torch.full_like(nb, -1))
        literal, _ = forward_literal(model, tokens[0], None)
    assert torch.equal(with_nb[:, :M - 1], closed[:, :M - 1])
    assert (with_nb[:, M - 1:] - closed[:, M - 1:]).abs().max() > 0.1 * closed.abs().max()
    assert torch.equal(all_absent, closed)  # no neighbours anywhere == closed-book, exactly
    assert (closed[0] - literal).abs().max() < 1e-10  # == the decoder with the CCA sub-layers removed


def test_closed_book_equals_model_without_cca_layers():
    model = make_model(seed=5)
    n = 2 * M + 3
    tokens, _ = make_inputs(5, n, model)
    plain = make_model(seed=5)
    for layer in plain.layers:  # remove the CCA sub-layers altogether
        if layer.has_cca:
            del layer.cca, layer.cca_norm
            layer.has_cca = False
    with torch.no_grad():
        assert torch.equal(model(tokens, None), plain(tokens, None))


def test_neighbour_padding_and_absent_neighbours_change_nothing():
    model = make_model()
    n = 2 * M + 1
    tokens, nb = make_inputs(6, n, model, lengths=[(20, 11), (24, 3)])
    padded = torch.full((1, 2, 3, 24), -1, dtype=nb.dtype)  # an extra, absent neighbour
    padded[:, :, :2] = nb
    with torch.no_grad():
        a = model(tokens, nb)
        b = model(tokens, padded)
        c = model(tokens, nb[..., :20])  # shorter r: cuts only padding of chunk 0 and 3 tokens of chunk 1 ...
    assert (a - b).abs().max() < 1e-12
    assert (a[:, :2 * M - 1] - c[:, :2 * M - 1]).abs().max() < 1e-12  # ... which chunk 1 only feeds from 127 on


@pytest.mark.parametrize("cca_layers,sink", [((0, 2), False), ((1,), False), ((2,), False), ((1, 2), True)])
def test_incremental_decoding_equals_full_forward(cca_layers, sink):
    model = make_model(seed=7, cca_layers=cca_layers, dtype=torch.float32, cca_sink=sink)
    n = 4 * M + 3  # crosses chunk boundaries at 63, 127, 191, 255
    tokens, nb = make_inputs(8, n, model, lengths=[(24, 24), (0, 0), (5, 24), (24, 0)])
    with torch.no_grad():
        full = model(tokens, nb)
        cache = model.init_cache()
        steps = []
        for p in range(n):
            u = (p + 1) // M - 1
            give = nb[:, u] if (p + 1) % M == 0 else None
            steps.append(model.step(tokens[:, p], cache, give))
    inc = torch.stack(steps, dim=1)
    assert (inc - full).abs().max() <= 1e-5


def test_step_rejects_neighbours_when_no_chunk_completes():
    model = make_model()
    cache = model.init_cache()
    with pytest.raises(ValueError, match="completes no chunk"):
        model.step(torch.tensor([1]), cache, torch.zeros(1, 2, 24, dtype=torch.long))


def test_forward_rejects_wrong_neighbour_shape():
    model = make_model()
    tokens, nb = make_inputs(1, 2 * M, model)
    with pytest.raises(ValueError, match="neighbours must be"):
        model(tokens, nb[:, :1])


def test_generate_greedy_is_argmax_of_the_full_forward():
    model = make_model(seed=3)
    rng = np.random.default_rng(10)
    prompt = torch.from_numpy(rng.integers(0, 97, 50))
    table = torch.from_numpy(np.stack([neighbour_rows(rng, l, 24, 97) for l in [(24, 10), (0, 0), (24, 24)]]))
    g = 3 * M - 50 + 2  # feeds up to position 192 -> chunks 0, 1, 2 complete
    with torch.no_grad():
        toks, logits = model.generate_greedy(prompt, table, g)
        seq = torch.cat([prompt, toks])[None]
        full = model(seq, table[None, : seq.shape[1] // M])
    assert torch.equal(toks, full[0, len(prompt) - 1:-1].argmax(-1))
    assert (logits - full[0, len(prompt) - 1:-1]).abs().max() < 1e-10
    # a callable retriever gives the same result
    with torch.no_grad():
        toks2, _ = model.generate_greedy(prompt, lambda u, chunk: table[u] if u < 3 else None, g)
    assert torch.equal(toks, toks2)


def test_untied_head_and_training_helpers():
    model = make_model(tie_embeddings=False)
    names = set(model.export_state())
    assert "lm_head.weight" in names
    tied = set(make_model().export_state())
    assert "lm_head.weight" not in tied and names - tied == {"lm_head.weight"}
    tokens, nb = make_inputs(11, M + 4, model)
    loss = model.loss(tokens[:, :-1], tokens[:, 1:], nb)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert model.encoder.layers[0].cross.k_proj.weight.grad.abs().sum() > 0  # gradient reaches the encoder
    dropped = drop_neighbours(torch.zeros(4, 50, 2, 3, dtype=torch.long), 0.5, torch.Generator().manual_seed(0))
    per_chunk = (dropped == -1).all(-1).all(-1)
    assert 0 < per_chunk.sum() < per_chunk.numel()
    assert torch.all((dropped == -1) == per_chunk[..., None, None])


def test_config_validation():
    with pytest.raises(ValueError):
        RetroConfig(d_model=30, n_heads=4).validate()
    with pytest.raises(ValueError):
        RetroConfig(cca_layers=[3, 2]).validate()
    with pytest.raises(ValueError):
        RetroConfig(n_layers=2, cca_layers=[2]).validate()
    with pytest.raises(ValueError):
        RetroConfig(cca_positions="alibi").validate()


# -----------------------------------------------------------------------------
# chunked cross-attention positions (the diagnosis of decoders that ignored their neighbours)


@pytest.mark.parametrize("positions", ["rope", "none"])
def test_forward_matches_literal_definition_for_both_position_modes(positions):
    model = make_model(seed=3, cca_positions=positions)
    n = 2 * M + 5
    tokens, nb = make_inputs(4, n, model, lengths=[(24, 13), (9, 24)])
    with torch.no_grad():
        got = model(tokens, nb)
        want, _ = forward_literal(model, tokens[0], nb[0])
    assert (got[0] - want).abs().max() < 1e-10


def test_cca_positions_change_the_output_and_legacy_files_load_without_them(tmp_path):
    rope = make_model(seed=5, cca_positions="rope")
    plain = make_model(seed=5, cca_positions="none")
    tokens, nb = make_inputs(6, 2 * M, rope)
    with torch.no_grad():
        a, b = rope(tokens, nb), plain(tokens, nb)
        assert torch.equal(rope(tokens)[0], plain(tokens)[0])  # closed-book: CCA adds nothing either way
    assert (a[0, M - 1:] - b[0, M - 1:]).abs().max() > 1e-3  # positions m-1.. read the neighbours differently
    assert torch.equal(a[0, :M - 1], b[0, :M - 1])  # before the first chunk completes nothing differs
    # a config.json without the key predates CCA positions: it loads as "none"
    plain.float().save_folder(str(tmp_path))
    cfg_path = tmp_path / "config.json"
    d = json.loads(cfg_path.read_text())
    assert d["cca_positions"] == "none"
    del d["cca_positions"]
    cfg_path.write_text(json.dumps(d))
    assert Retro.from_folder(str(tmp_path)).config.cca_positions == "none"


def test_cca_sinks_follow_the_literal_definition_and_gate_the_reading(tmp_path):
    """cca_sink: the vectorised forward and incremental decoding match the literal softmax with a value-0 key; a
    sink far below the scores is the decoder without sinks, one far above them is closed-book; the weights round-trip
    through a model folder, and a folder without the key has no sinks."""
    model = make_model(seed=8, cca_positions="rope", cca_sink=True)
    with torch.no_grad():
        for lay in model.layers:
            if lay.has_cca:
                lay.cca.sink.copy_(torch.tensor([-1.0, 0.0, 1.0, 2.5], dtype=torch.float64))
    tokens, nb = make_inputs(9, 2 * M + 7, model, lengths=[(24, 19), (24, 0)])
    with torch.no_grad():
        got = model(tokens, nb)[0]
        want, _ = forward_literal(model, tokens[0], nb[0])
        assert (got - want).abs().max() < 1e-9
        plain = make_model(seed=8, cca_positions="rope")
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.endswith(".sink")})
        assert (got - plain(tokens, nb)[0]).abs().max() > 1e-3  # the sinks change what is read
        for value, other in ((-1e4, plain(tokens, nb)), (1e4, plain(tokens))):
            for lay in model.layers:
                if lay.has_cca:
                    lay.cca.sink.fill_(value)
            assert (model(tokens, nb) - other).abs().max() < 1e-9
    model.float().save_folder(str(tmp_path))
    assert json.loads((tmp_path / "config.json").read_text())["cca_sink"] is True
    again = Retro.from_folder(str(tmp_path))
    assert torch.equal(again.layers[2].cca.sink, model.layers[2].cca.sink)
    plain.float().save_folder(str(tmp_path / "plain"))
    assert "cca_sink" not in json.loads((tmp_path / "plain" / "config.json").read_text())
    assert not hasattr(Retro.from_folder(str(tmp_path / "plain")).layers[2].cca, "sink")


def test_gradients_reach_every_cca_and_neighbour_encoder_parameter():
    """With the training init (train_retro.build_model), one loss with neighbours gives every CCA and neighbour
    encoder parameter a non-zero gradient, and without neighbours none of them gets one."""
    import train_retro
    cfg = dict(train_retro.DEFAULTS, lm_n_layers=3, lm_d_model=32, lm_n_heads=4, lm_d_ff=48, lm_cca_layers=[1, 2],
               lm_encoder_layers=2, lm_encoder_heads=2, lm_encoder_d_ff=40, lm_seq_len=2 * M, neighbour_len=24)
    torch.manual_seed(0)
    model = train_retro.build_model(cfg, 97, 0).double()
    assert model.config.cca_positions == "rope"
    tokens, nb = make_inputs(7, 2 * M + 1, model)
    targeted = [n for n, _ in model.named_parameters() if ".cca" in n or n.startswith("encoder.")]
    assert len(targeted) == 2 * 6 + 2 * 16 + 2  # per CCA layer: norm (2) + q,k,v,o; per encoder layer 16; norm_f
    model.loss(tokens[:, :-1], tokens[:, 1:], nb).backward()
    grads = dict(model.named_parameters())
    missing = [n for n in targeted if grads[n].grad is None or grads[n].grad.abs().max() == 0]
    assert not missing, f"no gradient reaches {missing}"
    model.zero_grad(set_to_none=True)
    model.loss(tokens[:, :-1], tokens[:, 1:], None).backward()
    assert all(grads[n].grad is None or grads[n].grad.abs().max() == 0 for n in targeted)


def test_copy_task_learns_only_with_positions():
    """A 150-step miniature of copy_task.py (the full check is the script: < 10% of uniform in a few CPU minutes):
    with RoPE in CCA the loss on copied tokens leaves the uniform loss; without positions it does not move yet."""
    import copy_task
    base = dict(copy_task.DEFAULTS, vocab=64, d_model=64, n_layers=2, n_heads=4, d_ff=128, cca_layers=[1],
                encoder_heads=4, encoder_d_ff=128, chunk=16, seq_len=64, batch=16, distractor=False,
                lr=3e-3, warmup=5, max_steps=150, max_seconds=120.0, log_every=1000, eval_batches=2, goal=0.0)
    _, rope_loss, _ = copy_task.run(dict(base, cca_positions="rope"))
    _, none_loss, _ = copy_task.run(dict(base, cca_positions="none"))
    uniform = math.log(64)
    assert rope_loss < 0.5 * uniform, rope_loss
    assert none_loss > 0.85 * uniform, none_loss  # measured: 0.37 vs 0.94 of uniform


def test_copy_init_reads_the_aligned_continuation_at_step_zero():
    """model.init_cca_copy: with the chunk + its continuation as neighbour (RETRO's layout), the untrained decoder
    already predicts the copied tokens; a random neighbour does not help; closed-book is unchanged."""
    import copy_task
    from model import init_cca_copy
    cfg = dict(copy_task.DEFAULTS, vocab=64, d_model=64, n_layers=2, n_heads=4, d_ff=128, cca_layers=[1],
               encoder_heads=4, encoder_d_ff=128, chunk=16, seq_len=64, batch=8, distractor=False)
    torch.manual_seed(0)
    model = copy_task.build(cfg)
    with torch.no_grad():
        model.tok_embeddings.weight.normal_(0.0, 1.0)  # a trained LM's embeddings are far from the 0.02 init
    x, y, nb, copied = copy_task.batch(cfg, torch.Generator().manual_seed(0))
    closed = copy_task.copied_loss(model, x, y, None, copied)[0]
    init_cca_copy(model, [1], gain=4.0, margin=10.0)
    with torch.no_grad():
        assert torch.allclose(copy_task.copied_loss(model, x, y, None, copied)[0], closed)
        copying = copy_task.copied_loss(model, x, y, nb, copied)[0]
        wrong = copy_task.copied_loss(model, x, y, torch.randint(0, 64, nb.shape), copied)[0]
    assert copying < 0.25 * closed, (float(copying), float(closed))
    assert wrong > 0.9 * closed, (float(wrong), float(closed))
    with pytest.raises(ValueError):
        init_cca_copy(make_model(cca_positions="none", dtype=torch.float32), [1])


def test_question_layout_keys_validate_and_round_trip(tmp_path):
    model = make_model(dtype=torch.float32)
    assert model.config.question_layout == "chunk" and model.config.question_neighbours == 0
    model.config.question_layout, model.config.question_neighbours = "answer", 1
    model.save_folder(str(tmp_path))
    again = Retro.from_folder(str(tmp_path))
    assert (again.config.question_layout, again.config.question_neighbours) == ("answer", 1)
    for bad in (dict(question_layout="both"), dict(question_neighbours=-1)):
        with pytest.raises(ValueError):
            RetroConfig(**{**model.config.to_dict(), **bad}).validate()


def _induction_setup(seed=0):
    """A tiny copy-initialised decoder with full-size embeddings, and a batch whose neighbour holds the window's
    own continuation 5 tokens off RETRO's alignment (the case a position-aligned reading gets wrong)."""
    import copy_task
    from model import init_cca_copy
    cfg = dict(copy_task.DEFAULTS, vocab=64, d_model=64, n_layers=2, n_heads=4, d_ff=128, cca_layers=[0, 1],
               encoder_heads=4, encoder_d_ff=128, chunk=16, seq_len=64, batch=16, distractor=False)
    torch.manual_seed(seed)
    model = copy_task.build(cfg)
    with torch.no_grad():
        model.tok_embeddings.weight.normal_(0.0, 1.0)
    init_cca_copy(model, [], gain=0.0)  # encoder branches at 0, positional copy switched off
    gen = torch.Generator().manual_seed(seed)
    B, n, m, r = cfg["batch"], cfg["seq_len"], cfg["chunk"], 2 * cfg["chunk"]
    seq = torch.randperm(64, generator=gen)[torch.randint(0, 64, (B, n + 2 * m), generator=gen)]
    x, y = seq[:, :n], seq[:, 1:n + 1]
    nb = torch.full((B, n // m, 2, r), -1, dtype=torch.long)
    for u in range(n // m):
        nb[:, u, 0] = seq[:, u * m + 5:u * m + 5 + r]
    return model, cfg, x, y, nb


def test_previous_token_layer_puts_the_predecessor_in_each_encoding():
    from model import init_encoder_previous_token
    model, _, x, _, nb = _induction_setup()
    init_encoder_previous_token(model, scale=1.0)
    H = torch.zeros(1, 1, 16, 64)
    with torch.no_grad():
        base = model.encode_neighbours(H, nb[:1, :1, :1])[0][0, 0, 0]
        before = nb[:1, :1, :1].clone()
        before[..., 9] = (before[..., 9] + 1) % 64  # the predecessor of position 10
        after = nb[:1, :1, :1].clone()
        after[..., 13] = (after[..., 13] + 1) % 64  # a token three positions later
        e_before = model.encode_neighbours(H, before)[0][0, 0, 0]
        e_after = model.encode_neighbours(H, after)[0][0, 0, 0]
    change = lambda e: float((e[10] - base[10]).norm() / base[10].norm())  # noqa: E731
    assert change(e_before) > 0.3, change(e_before)
    assert change(e_after) < 1e-3, change(e_after)


def test_induction_init_reads_a_misaligned_neighbour_by_content():
    """model.init_cca_induction: a neighbour holding the continuation at another offset (5 tokens late) is read by
    matching the current token, so the copied tokens' loss falls far below closed-book at step 0, where a random
    neighbour does far less; the read-outs fit well on this toy."""
    from model import init_cca_induction, init_encoder_previous_token
    model, cfg, x, y, nb = _induction_setup()
    init_encoder_previous_token(model, scale=1.0)
    m = cfg["chunk"]
    with torch.no_grad():
        closed = F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")[:, m:].mean()
        captured = []
        hook = model.layers[1].cca_norm.register_forward_hook(lambda mod, i, o: captured.append(o))
        _, E, _ = model(x, nb, return_encoded=True)
        hook.remove()
        toks = nb.reshape(-1, nb.size(-1))
        E = E.reshape(-1, E.size(-2), 64)
        ok = (toks[:, 1:] >= 0) & (toks[:, :-1] >= 0)
        r2 = init_cca_induction(model, 1, captured[0][:, m - 1:].reshape(-1, 64), x[:, m - 1:].reshape(-1),
                                E[:, 1:][ok], toks[:, :-1][ok], gain=4.0, sharpness=4.0)
        reading = F.cross_entropy(model(x, nb).transpose(1, 2), y, reduction="none")[:, m:].mean()
        wrong = F.cross_entropy(model(x, torch.randint(0, 64, nb.shape)).transpose(1, 2), y,
                                reduction="none")[:, m:].mean()
    assert r2[0] > 0.9 and r2[1] > 0.6, r2  # measured 0.999, 0.72
    assert reading < 0.5 * closed, (float(reading), float(closed))
    assert reading < 0.25 * wrong, (float(reading), float(wrong))  # measured 7.0 vs 29.5 (closed-book 62.8)
