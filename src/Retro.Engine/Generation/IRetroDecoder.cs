using Retro.Core;

namespace Retro.Engine.Generation;

/// <summary>
/// The RETRO decoder as the generation loop drives it: a tokenizer, the chunk geometry and per-sequence sessions.
/// Implementations are thread-safe; each session belongs to one sequence and one caller at a time.
/// </summary>
public interface IRetroDecoder
{
    /// <summary>Model identity (folder name plus weights hash).</summary>
    string ModelId { get; }

    /// <summary>The decoder's tokenizer (prompt text to ids, ids back to text).</summary>
    ITokenizer Tokenizer { get; }

    /// <summary>Chunk size m (64 in RETRO).</summary>
    int ChunkSize { get; }

    /// <summary>Neighbour length r (chunk plus continuation, 128 in RETRO); longer neighbours are truncated to it.</summary>
    int NeighbourLength { get; }

    /// <summary>Longest sequence (prompt plus generated tokens) a session accepts.</summary>
    int MaxSequenceLength { get; }

    /// <summary>Vocabulary size V: the length of the logits a step writes.</summary>
    int VocabularySize { get; }

    /// <summary>End-of-sequence id, or -1 when the model has none.</summary>
    int EosTokenId { get; }

    /// <summary>Padding id used to left-pad questions, or -1 when the model has none.</summary>
    int PadTokenId { get; }

    /// <summary>How a question chunk's neighbours are laid out for this model (its <c>question_layout</c>).</summary>
    Retro.QuestionLayout QuestionLayout => Retro.QuestionLayout.Chunk;

    /// <summary>How many of the retrieved neighbours a question chunk gets, best first; 0 = all (its <c>question_neighbours</c>).</summary>
    int QuestionNeighbours => 0;

    /// <summary>The neighbour copy fitted for this model (its <c>neighbour_copy</c>), or null for none.</summary>
    Retro.NeighbourCopy? NeighbourCopy => null;

    /// <summary>Starts an empty sequence. Dispose the session to release its caches.</summary>
    IRetroDecoderSession CreateSession();
}

/// <summary>One sequence being decoded: a KV cache plus the encoded neighbours of its completed chunks.</summary>
public interface IRetroDecoderSession : IDisposable
{
    /// <summary>Tokens fed so far (the position the next token takes).</summary>
    int Length { get; }

    /// <summary>
    /// Feeds <paramref name="tokens"/> at positions <see cref="Length"/>.. and writes the next-token logits of the last
    /// one into <paramref name="logits"/> (length V). Only the last token may complete a chunk (position u·m + m − 1);
    /// when it does, <paramref name="neighbours"/> are chunk u's neighbours (0..k token arrays of at most r ids each),
    /// otherwise <paramref name="neighbours"/> must be empty.
    /// </summary>
    /// <exception cref="ArgumentException">The tokens cross a chunk boundary, neighbours come where no chunk completes,
    /// or the sequence would exceed <see cref="IRetroDecoder.MaxSequenceLength"/>.</exception>
    void Feed(ReadOnlySpan<int> tokens, IReadOnlyList<int[]> neighbours, Span<float> logits);
}
