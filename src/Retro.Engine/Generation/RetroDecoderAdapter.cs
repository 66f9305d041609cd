using Retro.Core;
using Retro.Engine.Checkpoints;
using Retro.Engine.Retro;
using Retro.Tokenizers;

namespace Retro.Engine.Generation;

/// <summary>
/// <see cref="IRetroDecoder"/> over the engine's <see cref="RetroDecoder"/> and the decoder's tokenizer. Each session
/// allocates its own KV cache of <see cref="MaxSequenceLength"/> positions for up to <see cref="MaxNeighbours"/>
/// neighbours per chunk. Thread-safe (sessions are independent).
/// </summary>
public sealed class RetroDecoderAdapter : IRetroDecoder, IDisposable
{
    private readonly RetroDecoder _decoder;
    private readonly bool _ownsDecoder;

    /// <summary>
    /// Wraps <paramref name="decoder"/>; <paramref name="maxNeighbours"/> bounds k per chunk (default: 8 or the model's
    /// num_neighbours, whichever is larger). With <paramref name="batchCapacity"/> &gt; 1 the single-token steps of
    /// concurrent sessions are batched (up to that many per step). Disposes the decoder when <paramref name="ownsDecoder"/>.
    /// </summary>
    public RetroDecoderAdapter(RetroDecoder decoder, ITokenizer tokenizer, string modelId, int? maxNeighbours = null, bool ownsDecoder = true,
        int batchCapacity = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchCapacity, 1);
        _decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        Checkpoints.TokenizerFit.Check(tokenizer.VocabularySize, decoder.Config.VocabSize, null);
        ModelId = modelId;
        MaxNeighbours = maxNeighbours ?? Math.Max(8, decoder.Config.NumNeighbours);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxNeighbours, 1, nameof(maxNeighbours));
        _ownsDecoder = ownsDecoder;
        _batcher = batchCapacity > 1 ? new StepBatcher<RetroSession>(new RetroSegmentBatchRunner(decoder, batchCapacity)) : null;
    }

    private readonly StepBatcher<RetroSession>? _batcher;

    /// <summary>
    /// Loads a RETRO folder (config.json, model.safetensors, tokenizer.json) onto <paramref name="backend"/>, like its
    /// BERT siblings: the model id ("folder@hash" of the weights) and the tokenizer come from the folder. The adapter owns
    /// the decoder. See the constructor for <paramref name="maxNeighbours"/> and <paramref name="batchCapacity"/>.
    /// </summary>
    public static RetroDecoderAdapter Load(string folder, IBackend backend, int? maxNeighbours = null, int batchCapacity = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(backend);
        string modelId;
        using (var model = ModelFolder.Open(folder, "retro")) modelId = model.ComputeModelId();
        var tokenizer = TokenizerLoader.FromFolder(folder);
        var decoder = RetroDecoder.Load(folder, backend);
        try
        {
            return new RetroDecoderAdapter(decoder, tokenizer, modelId, maxNeighbours, ownsDecoder: true, batchCapacity);
        }
        catch
        {
            decoder.Dispose();
            throw;
        }
    }

    /// <summary>The engine's decoder behind the adapter (full forward passes, e.g. for scoring).</summary>
    public RetroDecoder Decoder => _decoder;

    /// <summary>Most neighbours a session takes per chunk; more are dropped (the best come first).</summary>
    public int MaxNeighbours { get; }

    /// <summary>Single-token steps and the batched decoder calls that ran them (both 0 without batching).</summary>
    public (long Steps, long Batches) BatchCounts => _batcher?.Counts ?? (0, 0);

    /// <summary>Neighbours the decoder encoded so far, and the token rows they took.</summary>
    public (long Neighbours, long Rows) EncodedNeighbours => _decoder.EncodedNeighbours;

    /// <summary>Token rows the batched decoder calls fed, and the Stopwatch ticks spent in them (both 0 without batching).</summary>
    public (long Rows, long BusyTicks) BatchWork => _batcher?.Work ?? (0, 0);

    /// <inheritdoc />
    public string ModelId { get; }

    /// <inheritdoc />
    public ITokenizer Tokenizer { get; }

    /// <inheritdoc />
    public int ChunkSize => _decoder.Config.ChunkSize;

    /// <inheritdoc />
    public int NeighbourLength => _decoder.Config.NeighbourLen;

    /// <inheritdoc />
    public int MaxSequenceLength => _decoder.Config.MaxSeqLen;

    /// <inheritdoc />
    public int VocabularySize => _decoder.Config.VocabSize;

    /// <inheritdoc />
    public int EosTokenId => _decoder.Config.EosTokenId;

    /// <inheritdoc />
    public int PadTokenId => _decoder.Config.PadTokenId;

    /// <inheritdoc />
    public global::Retro.Engine.Retro.QuestionLayout QuestionLayout => _decoder.Config.QuestionLayout;

    /// <inheritdoc />
    public int QuestionNeighbours => _decoder.Config.QuestionNeighbours;

    /// <inheritdoc />
    public global::Retro.Engine.Retro.NeighbourCopy? NeighbourCopy => _decoder.Config.NeighbourCopy;

    /// <inheritdoc />
    public IRetroDecoderSession CreateSession() => new Session(_decoder.CreateSession(MaxNeighbours), MaxNeighbours, _batcher);

    /// <summary>Releases the decoder's mapped weights when owned.</summary>
    public void Dispose()
    {
        _batcher?.Dispose();
        if (_ownsDecoder) _decoder.Dispose();
    }

    private sealed class Session : IRetroDecoderSession
    {
        private readonly RetroSession _session;
        private readonly int _maxNeighbours;
        private readonly StepBatcher<RetroSession>? _batcher;
        private float[]? _row;
        private int _disposed;

        public Session(RetroSession session, int maxNeighbours, StepBatcher<RetroSession>? batcher)
        {
            _session = session;
            _maxNeighbours = maxNeighbours;
            _batcher = batcher;
            batcher?.Attach();
        }

        public int Length => _session.Length;

        public void Feed(ReadOnlySpan<int> tokens, IReadOnlyList<int[]> neighbours, Span<float> logits)
        {
            if (neighbours.Count > _maxNeighbours) neighbours = neighbours.Take(_maxNeighbours).ToArray();
            // Before queueing: a bad list inside a batch would fail every request in it, or leave tokens before it fed.
            var c = _session.Decoder.Config;
            if (c.CcaLayers.Count > 0 && neighbours.Count > 0)
                DecoderInput.CheckNeighbours(neighbours, (_session.Length + tokens.Length) / c.ChunkSize - 1, c.NeighbourLen, c.VocabSize, _maxNeighbours);
            if (_batcher is null || !_batcher.TryFeed(_session, _session.Length, _session.MaxSequenceLength, _session.Decoder.Config.ChunkSize, tokens, neighbours,
                    _row ??= new float[_session.Decoder.Config.VocabSize], logits))
                _session.Feed(tokens, neighbours, logits); // unbatched, or a feed the session itself rejects
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _batcher?.Detach();
            _session.Dispose();
        }
    }
}
