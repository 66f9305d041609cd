using Microsoft.ML.OnnxRuntime;
using Retro.Engine.Generation;
using Retro.Engine.Retro;

namespace Retro.Engine.Onnx;

/// <summary>
/// One sequence on <see cref="OnnxRetroDecoder"/>: per layer the keys and values of every position so far (native
/// (max_seq_len × D) buffers, RoPE applied), the inputs of layer min(cca_layers) of the current chunk, and the CCA keys,
/// values and key mask of the latest completed chunk's neighbours. The graphs read and write these buffers in place
/// through OrtValue views bound with IOBinding. One caller at a time; dispose to free the buffers.
/// </summary>
internal sealed class OnnxRetroSession : IRetroDecoderSession
{
    private readonly OnnxRetroDecoder _decoder;
    private readonly RetroConfig _c;
    private readonly StepBatcher<OnnxRetroSession>? _batcher;
    private readonly OrtIoBinding _lower, _upper, _encoder;
    private readonly NativeBuffer<long> _ids, _positions, _mask, _encIds;
    private readonly NativeBuffer<long> _noCcaMask;
    private readonly NativeBuffer<float> _noCca;
    private readonly int[] _lasts;
    private float[]? _row;
    private int _disposed;

    public OnnxRetroSession(OnnxRetroDecoder decoder, StepBatcher<OnnxRetroSession>? batcher)
    {
        _decoder = decoder;
        _c = decoder.Config;
        int d = _c.DModel, m = _c.ChunkSize, rows = decoder.MaxNeighbours * _c.NeighbourLen;
        Keys = new NativeBuffer<float>[_c.NLayers];
        Values = new NativeBuffer<float>[_c.NLayers];
        for (int i = 0; i < _c.NLayers; i++)
        {
            Keys[i] = new NativeBuffer<float>((long)_c.MaxSeqLen * d);
            Values[i] = new NativeBuffer<float>((long)_c.MaxSeqLen * d);
        }
        ChunkInputs = new NativeBuffer<float>((long)m * d);
        Hidden = new NativeBuffer<float>((long)m * d);
        CcaKeys = new NativeBuffer<float>[_c.CcaLayers.Count];
        CcaValues = new NativeBuffer<float>[_c.CcaLayers.Count];
        for (int c = 0; c < CcaKeys.Length; c++)
        {
            CcaKeys[c] = new NativeBuffer<float>((long)rows * d);
            CcaValues[c] = new NativeBuffer<float>((long)rows * d);
        }
        CcaMask = new NativeBuffer<long>(rows);
        _encIds = new NativeBuffer<long>(rows);
        _encStates = new NativeBuffer<float>((long)decoder.MaxNeighbours * m * d);
        _ids = new NativeBuffer<long>(m);
        _positions = new NativeBuffer<long>(m);
        _mask = new NativeBuffer<long>(_c.MaxSeqLen);
        _mask.Span(0, _c.MaxSeqLen).Fill(1);
        Logits = new NativeBuffer<float>(_c.VocabSize);
        _noCcaMask = new NativeBuffer<long>(1);
        _noCca = new NativeBuffer<float>(d);
        _lasts = new int[decoder.MaxNeighbours];
        _lower = decoder.Lower.CreateIoBinding();
        _upper = decoder.Upper.CreateIoBinding();
        _encoder = decoder.Encoder.CreateIoBinding();
        _batcher = batcher;
        batcher?.Attach();
    }

    private readonly NativeBuffer<float> _encStates;

    /// <inheritdoc />
    public int Length { get; private set; }

    public int MaxSequenceLength => _c.MaxSeqLen;

    public OnnxRetroDecoder Decoder => _decoder;

    /// <summary>Per layer (max_seq_len × D): keys (after RoPE) and values of positions 0..Length−1.</summary>
    internal NativeBuffer<float>[] Keys { get; }
    internal NativeBuffer<float>[] Values { get; }

    /// <summary>(m × D): inputs of layer min(cca_layers), row p mod m for position p of the current chunk.</summary>
    internal NativeBuffer<float> ChunkInputs { get; }

    /// <summary>(m × D): the latest segment's hidden states at the input of layer min(cca_layers).</summary>
    internal NativeBuffer<float> Hidden { get; }

    /// <summary>Per CCA layer (k·r × D): keys and values of the latest completed chunk's neighbours; <see cref="CcaMask"/> marks real tokens.</summary>
    internal NativeBuffer<float>[] CcaKeys { get; }
    internal NativeBuffer<float>[] CcaValues { get; }
    internal NativeBuffer<long> CcaMask { get; }

    /// <summary>(V): the latest next-token logits.</summary>
    internal NativeBuffer<float> Logits { get; }

    /// <summary>Rows of the CCA cache (neighbours × their padded length): 0 when the latest completed chunk has no neighbours.</summary>
    internal int CcaRows { get; private set; }

    /// <summary>CCA rows the positions from <paramref name="p"/> on attend to: none before the first complete chunk.</summary>
    internal int CcaRowsAt(int p) => (p + 1) / _c.ChunkSize >= 1 ? CcaRows : 0;

    /// <inheritdoc />
    public void Feed(ReadOnlySpan<int> tokens, IReadOnlyList<int[]> neighbours, Span<float> logits)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentNullException.ThrowIfNull(neighbours);
        if (neighbours.Count > _decoder.MaxNeighbours) neighbours = neighbours.Take(_decoder.MaxNeighbours).ToArray();
        int v = _c.VocabSize;
        DecoderInput.CheckFeed(tokens, Length, MaxSequenceLength, _c.ChunkSize, v, logits.Length, neighbours.Count);
        CheckNeighbours(neighbours, (Length + tokens.Length) / _c.ChunkSize - 1); // before queueing: a bad list inside a batch would fail every request in it
        if (_batcher is not null && _batcher.TryFeed(this, Length, MaxSequenceLength, _c.ChunkSize, tokens, neighbours, _row ??= new float[_c.VocabSize], logits))
            return;
        if (tokens.Length > 1) Segment(tokens[..^1], null);
        Segment(tokens[^1..], neighbours);
        Logits.Span(0, v).CopyTo(logits);
    }

    /// <summary>
    /// Checks a chunk's neighbours (ids below V, at most MaxNeighbours non-empty) and notes each one's last real token;
    /// returns k', the non-empty ones. Changes nothing else, so a bad list leaves the session as it was.
    /// </summary>
    internal int CheckNeighbours(IReadOnlyList<int[]>? neighbours, int chunk) =>
        DecoderInput.CheckNeighbours(neighbours, chunk, _c.NeighbourLen, _c.VocabSize, _decoder.MaxNeighbours, _lasts);

    /// <summary>
    /// Feeds checked tokens at positions Length.. that share their CCA chunk (only the first may complete one; then
    /// <paramref name="neighbours"/> are its neighbours). Leaves the last position's logits in <see cref="Logits"/>.
    /// </summary>
    internal void Segment(ReadOnlySpan<int> tokens, IReadOnlyList<int[]>? neighbours)
    {
        int n = tokens.Length, p0 = Length, d = _c.DModel;
        var ids = _ids.Span(0, n);
        var positions = _positions.Span(0, n);
        for (int i = 0; i < n; i++) (ids[i], positions[i]) = (tokens[i], p0 + i);
        var values = new List<OrtValue>(64);
        try
        {
            // layers below min(cca_layers): the hidden states H rows come from, and their keys and values
            _lower.ClearBoundInputs();
            _lower.ClearBoundOutputs();
            Bind(_lower, "input_ids", _ids.View(0, 1, n), values, input: true);
            Bind(_lower, "positions", _positions.View(0, 1, n), values, input: true);
            Bind(_lower, "attention_mask", _mask.View(0, 1, p0 + n), values, input: true);
            BindCache(_lower, _decoder.LowerPast, _decoder.LowerNew, 0, p0, n, values);
            Bind(_lower, "hidden", Hidden.View(0, 1, n, d), values, input: false);
            _decoder.Lower.RunWithBinding(RunOptionsCache, _lower);

            RecordChunkInputs(p0, n, neighbours);

            // layers from min(cca_layers) on, with the CCA cache of the chunk these positions attend to
            _upper.ClearBoundInputs();
            _upper.ClearBoundOutputs();
            Bind(_upper, "hidden", Hidden.View(0, 1, n, d), values, input: true);
            Bind(_upper, "positions", _positions.View(0, 1, n), values, input: true);
            Bind(_upper, "attention_mask", _mask.View(0, 1, p0 + n), values, input: true);
            int s = CcaRowsAt(p0);
            Bind(_upper, "cca_mask", s == 0 ? _noCcaMask.View(0, 1, 1) : CcaMask.View(0, 1, s), values, input: true);
            for (int c = 0; c < CcaKeys.Length; c++)
            {
                Bind(_upper, _decoder.CcaNames[2 * c], s == 0 ? _noCca.View(0, 1, 1, d) : CcaKeys[c].View(0, 1, s, d), values, input: true);
                Bind(_upper, _decoder.CcaNames[2 * c + 1], s == 0 ? _noCca.View(0, 1, 1, d) : CcaValues[c].View(0, 1, s, d), values, input: true);
            }
            BindCache(_upper, _decoder.UpperPast, _decoder.UpperNew, _c.FirstCcaLayer, p0, n, values);
            Bind(_upper, "logits", Logits.View(0, 1, _c.VocabSize), values, input: false);
            _decoder.Upper.RunWithBinding(RunOptionsCache, _upper);
            Length = p0 + n;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>
    /// Saves rows of <see cref="Hidden"/> as rows p mod m of <see cref="ChunkInputs"/>; when position
    /// <paramref name="p0"/> completes chunk u, H_u is complete with its first row: the neighbours are encoded before
    /// the rest of the segment (chunk u+1) overwrites it.
    /// </summary>
    internal void RecordChunkInputs(int p0, int n, IReadOnlyList<int[]>? neighbours)
    {
        int m = _c.ChunkSize, d = _c.DModel;
        if ((p0 + 1) % m != 0)
        {
            Hidden.Span(0, n * d).CopyTo(ChunkInputs.Span((long)(p0 % m) * d, n * d));
            return;
        }
        Hidden.Span(0, d).CopyTo(ChunkInputs.Span((long)(m - 1) * d, d));
        EncodeNeighbours(neighbours);
        if (n > 1) Hidden.Span(d, (n - 1) * d).CopyTo(ChunkInputs.Span(0, (n - 1) * d));
    }

    /// <summary>Takes the hidden state of a batched step (<paramref name="row"/>, D) into this session's chunk inputs, encoding a completed chunk's neighbours.</summary>
    internal void RecordStep(ReadOnlySpan<float> row, IReadOnlyList<int[]>? neighbours)
    {
        row.CopyTo(Hidden.Span(0, _c.DModel));
        RecordChunkInputs(Length, 1, neighbours);
    }

    /// <summary>Advances past a batched step whose keys and values the runner wrote.</summary>
    internal void Advance() => Length++;

    /// <summary>
    /// The neighbour encoder on H_u (<see cref="ChunkInputs"/>) for the checked <paramref name="neighbours"/>, each padded
    /// to the longest one's last token: CCA keys and values straight into the cache buffers.
    /// </summary>
    private void EncodeNeighbours(IReadOnlyList<int[]>? neighbours)
    {
        CcaRows = 0;
        int k = CheckNeighbours(neighbours, (Length + 1) / _c.ChunkSize - 1); // the chunk position Length completes
        if (k == 0) return;
        int length = 0;
        for (int j = 0; j < k; j++) length = Math.Max(length, _lasts[j] + 1);
        var ids = _encIds.Span(0, k * length);
        var mask = CcaMask.Span(0, k * length);
        int at = 0;
        for (int j = 0; j < neighbours!.Count; j++)
        {
            var tokens = neighbours[j];
            int len = Math.Min(tokens.Length, _c.NeighbourLen), last = -1;
            for (int t = 0; t < len; t++) if (tokens[t] >= 0) last = t;
            if (last < 0) continue;
            for (int t = 0; t < length; t++)
            {
                int id = t <= last ? tokens[t] : -1;
                ids[at * length + t] = id < 0 ? 0 : id;
                mask[at * length + t] = id < 0 ? 0 : 1;
            }
            at++;
        }
        int m = _c.ChunkSize, d = _c.DModel;
        var h = ChunkInputs.Span(0, m * d);
        for (int j = 0; j < k; j++) h.CopyTo(_encStates.Span((long)j * m * d, m * d));
        var values = new List<OrtValue>(16);
        try
        {
            _encoder.ClearBoundInputs();
            _encoder.ClearBoundOutputs();
            Bind(_encoder, "neighbours", _encIds.View(0, k, length), values, input: true);
            Bind(_encoder, "neighbour_mask", CcaMask.View(0, k, length), values, input: true);
            Bind(_encoder, "chunk_states", _encStates.View(0, k, m, d), values, input: true);
            for (int c = 0; c < CcaKeys.Length; c++)
            {
                Bind(_encoder, _decoder.CcaNames[2 * c], CcaKeys[c].View(0, k, length, d), values, input: false);
                Bind(_encoder, _decoder.CcaNames[2 * c + 1], CcaValues[c].View(0, k, length, d), values, input: false);
            }
            _decoder.Encoder.RunWithBinding(RunOptionsCache, _encoder);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
        CcaRows = k * length;
        _decoder.CountEncoded(k, k * length);
    }

    /// <summary>Binds the past (rows 0..p0) of each layer's cache as inputs and rows p0..p0+n as the new keys and values.</summary>
    private void BindCache(OrtIoBinding binding, string[] past, string[] fresh, int firstLayer, int p0, int n, List<OrtValue> values)
    {
        int d = _c.DModel;
        for (int j = 0; j < past.Length; j++)
        {
            var cache = (j % 2 == 0 ? Keys : Values)[firstLayer + j / 2];
            Bind(binding, past[j], cache.View(0, 1, p0, d), values, input: true);
            Bind(binding, fresh[j], cache.View((long)p0 * d, 1, n, d), values, input: false);
        }
    }

    internal static void Bind(OrtIoBinding binding, string name, OrtValue value, List<OrtValue> owned, bool input)
    {
        owned.Add(value);
        if (input) binding.BindInput(name, value);
        else binding.BindOutput(name, value);
    }

    internal static readonly RunOptions RunOptionsCache = new();

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _batcher?.Detach();
        _lower.Dispose();
        _upper.Dispose();
        _encoder.Dispose();
        foreach (var b in Keys) b.Dispose();
        foreach (var b in Values) b.Dispose();
        foreach (var b in CcaKeys) b.Dispose();
        foreach (var b in CcaValues) b.Dispose();
        foreach (var b in new IDisposable[] { ChunkInputs, Hidden, CcaMask, _encIds, _encStates, _ids, _positions, _mask, Logits, _noCcaMask, _noCca }) b.Dispose();
    }
}
