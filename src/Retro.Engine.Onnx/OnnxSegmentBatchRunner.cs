using Microsoft.ML.OnnxRuntime;
using Retro.Engine.Generation;

namespace Retro.Engine.Onnx;

/// <summary>
/// The ONNX engine's batched call for <see cref="StepBatcher{TSession}"/>: the single-token steps of up to
/// <see cref="Capacity"/> sessions run as one (B, 1) pass of each graph, so every weight matrix is read once for all of
/// them. The graphs take one past tensor per layer, so each session's cached rows are gathered into a (B, P_max, D)
/// batch (rows past a session's length masked out) and the new rows scattered back after the run; CCA caches likewise
/// (B, S_max, D). Segments longer than one token (prompt prefill) run one session at a time. Used by one batch
/// leader at a time.
/// </summary>
internal sealed class OnnxSegmentBatchRunner : ISegmentBatchRunner<OnnxRetroSession>
{
    private readonly OnnxRetroDecoder _decoder;
    private readonly OrtIoBinding _lower, _upper;
    private readonly NativeBuffer<long> _ids, _positions, _mask, _ccaMask;
    private readonly NativeBuffer<float> _hidden, _logits;
    private readonly NativeBuffer<float>[] _past, _new, _cca;
    private readonly List<int> _steps = [];

    public OnnxSegmentBatchRunner(OnnxRetroDecoder decoder, int capacity)
    {
        _decoder = decoder;
        var c = decoder.Config;
        Capacity = capacity;
        int d = c.DModel, layers = c.NLayers, keys = decoder.MaxNeighbours * c.NeighbourLen;
        _ids = new NativeBuffer<long>(capacity);
        _positions = new NativeBuffer<long>(capacity);
        _mask = new NativeBuffer<long>((long)capacity * (c.MaxSeqLen + 1));
        _ccaMask = new NativeBuffer<long>((long)capacity * keys);
        _hidden = new NativeBuffer<float>((long)capacity * d);
        _logits = new NativeBuffer<float>((long)capacity * c.VocabSize);
        _past = new NativeBuffer<float>[2 * layers];
        _new = new NativeBuffer<float>[2 * layers];
        for (int j = 0; j < _past.Length; j++)
        {
            _past[j] = new NativeBuffer<float>((long)capacity * c.MaxSeqLen * d);
            _new[j] = new NativeBuffer<float>((long)capacity * d);
        }
        _cca = new NativeBuffer<float>[2 * c.CcaLayers.Count];
        for (int j = 0; j < _cca.Length; j++) _cca[j] = new NativeBuffer<float>((long)capacity * Math.Max(keys, 1) * d);
        _lower = decoder.Lower.CreateIoBinding();
        _upper = decoder.Upper.CreateIoBinding();
    }

    public int Capacity { get; }

    public int RowCapacity => Capacity * _decoder.Config.ChunkSize;

    public int VocabSize => _decoder.Config.VocabSize;

    public void Run(IReadOnlyList<OnnxRetroSession> sessions, IReadOnlyList<ReadOnlyMemory<int>> segments, IReadOnlyList<IReadOnlyList<int[]>?> neighbours, Span<float> logits)
    {
        int v = VocabSize;
        _steps.Clear();
        for (int b = 0; b < sessions.Count; b++)
        {
            if (segments[b].Length == 1) _steps.Add(b);
            else
            {
                sessions[b].Segment(segments[b].Span, neighbours[b]);
                sessions[b].Logits.Span(0, v).CopyTo(logits.Slice(b * v, v));
            }
        }
        if (_steps.Count == 1)
        {
            int b = _steps[0];
            sessions[b].Segment(segments[b].Span, neighbours[b]);
            sessions[b].Logits.Span(0, v).CopyTo(logits.Slice(b * v, v));
        }
        else if (_steps.Count > 1) Steps(sessions, segments, neighbours, logits);
    }

    /// <summary>One token for each session of <see cref="_steps"/>, as one batch.</summary>
    private void Steps(IReadOnlyList<OnnxRetroSession> sessions, IReadOnlyList<ReadOnlyMemory<int>> segments, IReadOnlyList<IReadOnlyList<int[]>?> neighbours, Span<float> logits)
    {
        var c = _decoder.Config;
        int n = _steps.Count, d = c.DModel, v = VocabSize, first = c.FirstCcaLayer, pmax = 0;
        foreach (int b in _steps) pmax = Math.Max(pmax, sessions[b].Length);
        int all = pmax + 1;
        for (int i = 0; i < n; i++)
        {
            var s = sessions[_steps[i]];
            _ids.Span(i, 1)[0] = segments[_steps[i]].Span[0];
            _positions.Span(i, 1)[0] = s.Length;
            var mask = _mask.Span((long)i * all, all);
            mask[..s.Length].Fill(1);
            mask[s.Length..pmax].Clear();
            mask[pmax] = 1;
        }
        Gather(sessions, 0, first, pmax);
        var values = new List<OrtValue>(64);
        try
        {
            _lower.ClearBoundInputs();
            _lower.ClearBoundOutputs();
            OnnxRetroSession.Bind(_lower, "input_ids", _ids.View(0, n, 1), values, input: true);
            OnnxRetroSession.Bind(_lower, "positions", _positions.View(0, n, 1), values, input: true);
            OnnxRetroSession.Bind(_lower, "attention_mask", _mask.View(0, n, all), values, input: true);
            BindCache(_lower, _decoder.LowerPast, _decoder.LowerNew, 0, n, pmax, values);
            OnnxRetroSession.Bind(_lower, "hidden", _hidden.View(0, n, 1, d), values, input: false);
            _decoder.Lower.RunWithBinding(OnnxRetroSession.RunOptionsCache, _lower);
            Scatter(sessions, 0, first);

            int smax = 0;
            for (int i = 0; i < n; i++)
            {
                var s = sessions[_steps[i]];
                s.RecordStep(_hidden.Span((long)i * d, d), neighbours[_steps[i]]);
                smax = Math.Max(smax, s.CcaRowsAt(s.Length));
            }
            smax = Math.Max(smax, 1); // a row without neighbours attends to no key (all masked): CCA adds 0
            GatherCca(sessions, smax);
            Gather(sessions, first, c.NLayers, pmax);

            _upper.ClearBoundInputs();
            _upper.ClearBoundOutputs();
            OnnxRetroSession.Bind(_upper, "hidden", _hidden.View(0, n, 1, d), values, input: true);
            OnnxRetroSession.Bind(_upper, "positions", _positions.View(0, n, 1), values, input: true);
            OnnxRetroSession.Bind(_upper, "attention_mask", _mask.View(0, n, all), values, input: true);
            OnnxRetroSession.Bind(_upper, "cca_mask", _ccaMask.View(0, n, smax), values, input: true);
            for (int j = 0; j < _cca.Length; j++) OnnxRetroSession.Bind(_upper, _decoder.CcaNames[j], _cca[j].View(0, n, smax, d), values, input: true);
            BindCache(_upper, _decoder.UpperPast, _decoder.UpperNew, first, n, pmax, values);
            OnnxRetroSession.Bind(_upper, "logits", _logits.View(0, n, v), values, input: false);
            _decoder.Upper.RunWithBinding(OnnxRetroSession.RunOptionsCache, _upper);
            Scatter(sessions, first, c.NLayers);
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
        for (int i = 0; i < n; i++)
        {
            sessions[_steps[i]].Advance();
            _logits.Span((long)i * v, v).CopyTo(logits.Slice(_steps[i] * v, v));
        }
    }

    /// <summary>Each step's cached rows of layers [from, to) into the (B, P_max, D) past tensors.</summary>
    private void Gather(IReadOnlyList<OnnxRetroSession> sessions, int from, int to, int pmax)
    {
        int d = _decoder.Config.DModel;
        for (int layer = from; layer < to; layer++)
        {
            for (int i = 0; i < _steps.Count; i++)
            {
                var s = sessions[_steps[i]];
                int rows = s.Length * d;
                s.Keys[layer].Span(0, rows).CopyTo(_past[2 * layer].Span((long)i * pmax * d, rows));
                s.Values[layer].Span(0, rows).CopyTo(_past[2 * layer + 1].Span((long)i * pmax * d, rows));
            }
        }
    }

    /// <summary>The new key and value rows of layers [from, to) back into each session's cache (at its current length).</summary>
    private void Scatter(IReadOnlyList<OnnxRetroSession> sessions, int from, int to)
    {
        int d = _decoder.Config.DModel;
        for (int layer = from; layer < to; layer++)
        {
            for (int i = 0; i < _steps.Count; i++)
            {
                var s = sessions[_steps[i]];
                _new[2 * layer].Span((long)i * d, d).CopyTo(s.Keys[layer].Span((long)s.Length * d, d));
                _new[2 * layer + 1].Span((long)i * d, d).CopyTo(s.Values[layer].Span((long)s.Length * d, d));
            }
        }
    }

    /// <summary>Each step's CCA keys, values and mask into (B, S_max, D) tensors (rows past its own count masked).</summary>
    private void GatherCca(IReadOnlyList<OnnxRetroSession> sessions, int smax)
    {
        int d = _decoder.Config.DModel;
        for (int i = 0; i < _steps.Count; i++)
        {
            var s = sessions[_steps[i]];
            int rows = s.CcaRowsAt(s.Length);
            var mask = _ccaMask.Span((long)i * smax, smax);
            s.CcaMask.Span(0, rows).CopyTo(mask);
            mask[rows..].Clear();
            for (int c = 0; c < _cca.Length / 2; c++)
            {
                s.CcaKeys[c].Span(0, rows * d).CopyTo(_cca[2 * c].Span((long)i * smax * d, rows * d));
                s.CcaValues[c].Span(0, rows * d).CopyTo(_cca[2 * c + 1].Span((long)i * smax * d, rows * d));
            }
        }
    }

    private void BindCache(OrtIoBinding binding, string[] past, string[] fresh, int firstLayer, int n, int pmax, List<OrtValue> values)
    {
        int d = _decoder.Config.DModel;
        for (int j = 0; j < past.Length; j++)
        {
            OnnxRetroSession.Bind(binding, past[j], _past[2 * firstLayer + j].View(0, n, pmax, d), values, input: true);
            OnnxRetroSession.Bind(binding, fresh[j], _new[2 * firstLayer + j].View(0, n, 1, d), values, input: false);
        }
    }

    public void Dispose()
    {
        _lower.Dispose();
        _upper.Dispose();
        foreach (var b in _past) b.Dispose();
        foreach (var b in _new) b.Dispose();
        foreach (var b in _cca) b.Dispose();
        foreach (var b in new IDisposable[] { _ids, _positions, _mask, _ccaMask, _hidden, _logits }) b.Dispose();
    }
}
