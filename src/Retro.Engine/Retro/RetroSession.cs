using System.Runtime.InteropServices;
using Retro.Engine.Generation;

namespace Retro.Engine.Retro;

/// <summary>
/// One sequence being decoded by a <see cref="RetroDecoder"/>: its KV cache and the CCA cache of the latest completed
/// chunk. Callers decide retrieval: when a fed token completes chunk u (position u·m + m − 1, see
/// <see cref="NextCompletesChunk"/>), they pass chunk u's neighbours as token arrays (0..k of at most r ids; negative
/// ids are padding). Not thread-safe; one caller at a time. Dispose to free the backend memory.
/// </summary>
public sealed class RetroSession : IDisposable
{
    private readonly RetroDecoder _decoder;
    private readonly RetroRunState _state;

    internal RetroSession(RetroDecoder decoder, RetroRunState state)
    {
        _decoder = decoder;
        _state = state;
    }

    /// <summary>The decoder this session runs.</summary>
    public RetroDecoder Decoder => _decoder;

    /// <summary>The session's buffers.</summary>
    public RetroRunState State => _state;

    /// <summary>Tokens fed so far: the position the next token takes.</summary>
    public int Length => _state.Length;

    /// <summary>Longest sequence the session holds.</summary>
    public int MaxSequenceLength => _state.MaxSequenceLength;

    /// <summary>True when the next token fed completes a chunk (and so takes that chunk's neighbours).</summary>
    public bool NextCompletesChunk => (_state.Length + 1) % _decoder.Config.ChunkSize == 0;

    /// <summary>The chunk the next completing token completes: (Length + 1) / m − 1 when <see cref="NextCompletesChunk"/>.</summary>
    public int NextChunkIndex => (_state.Length + 1) / _decoder.Config.ChunkSize - 1;

    /// <summary>
    /// Feeds the prompt; <paramref name="neighbours"/>(u) gives the neighbours of each chunk u the prompt completes
    /// (null provider: closed-book). Returns the next-token logits (length V), valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> prompt, Func<int, IReadOnlyList<int[]>?>? neighbours)
    {
        var logits = _state.HostLogits.AsSpan(0, _decoder.Config.VocabSize);
        _decoder.Forward(_state, prompt, neighbours, logits);
        return logits;
    }

    /// <summary>
    /// Feeds one token. When it completes a chunk, <paramref name="neighbours"/> are that chunk's (null or empty:
    /// none); otherwise they must be null or empty. Returns the next-token logits (length V), valid until the next
    /// call. Allocates nothing.
    /// </summary>
    public ReadOnlySpan<float> Step(int token, IReadOnlyList<int[]>? neighbours = null)
    {
        var one = MemoryMarshal.CreateReadOnlySpan(ref token, 1);
        DecoderInput.CheckTokens(one, _state.Length, _state.MaxSequenceLength, _decoder.Config.VocabSize);
        _decoder.Segment(_state, one, neighbours);
        return _state.HostLogits.AsSpan(0, _decoder.Config.VocabSize);
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> of which only the last may complete a chunk; <paramref name="neighbours"/> are
    /// that chunk's (or must be empty when it completes none). Writes the last token's logits (length V).
    /// </summary>
    public void Feed(ReadOnlySpan<int> tokens, IReadOnlyList<int[]>? neighbours, Span<float> logits)
    {
        var c = _decoder.Config;
        int v = c.VocabSize;
        DecoderInput.CheckFeed(tokens, _state.Length, _state.MaxSequenceLength, c.ChunkSize, v, logits.Length, neighbours?.Count ?? 0);
        // Before anything is fed: a bad list found at the last token would leave the tokens before it fed.
        if (c.CcaLayers.Count > 0) DecoderInput.CheckNeighbours(neighbours, (_state.Length + tokens.Length) / c.ChunkSize - 1, c.NeighbourLen, v, _state.MaxNeighbours);
        int padded = _decoder.PadPrefixLength(_state, tokens);
        if (padded > 0)
        {
            _decoder.RestorePadPrefix(_state, padded);
            tokens = tokens[padded..];
        }
        if (tokens.Length > 1) _decoder.Segment(_state, tokens[..^1], null);
        _decoder.Segment(_state, tokens[^1..], neighbours);
        _state.HostLogits.AsSpan(0, v).CopyTo(logits);
    }

    /// <summary>Forgets the sequence; the buffers are kept for the next one.</summary>
    public void Reset() => _state.Reset();

    /// <summary>Frees the session's backend memory.</summary>
    public void Dispose() => _state.Dispose();
}
