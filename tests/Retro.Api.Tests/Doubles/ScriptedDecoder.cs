using System.Collections.Concurrent;
using Retro.Core;
using Retro.Engine.Generation;

namespace Retro.Api.Tests.Doubles;

/// <summary>
/// A decoder double with the real chunk rules (neighbours only with the token that completes a chunk, at most r
/// tokens each). Its next token is a lowercase letter that depends on the last token and on the neighbours of the
/// latest completed chunk, so retrieval changes the text. Records every feed; <see cref="Gate"/> can hold steps.
/// </summary>
internal sealed class ScriptedDecoder : IRetroDecoder
{
    public ScriptedDecoder(int chunkSize = 8, int neighbourLength = 16, int maxSequenceLength = 512)
    {
        ChunkSize = chunkSize;
        NeighbourLength = neighbourLength;
        MaxSequenceLength = maxSequenceLength;
    }

    public string ModelId => "scripted@test";
    public ITokenizer Tokenizer { get; } = new ByteTokenizer();
    public int ChunkSize { get; }
    public int NeighbourLength { get; }
    public int MaxSequenceLength { get; }
    public int VocabularySize => 258;
    public int EosTokenId => ByteTokenizer.Eos;
    public int PadTokenId => ByteTokenizer.Pad;
    public Retro.Engine.Retro.QuestionLayout QuestionLayout { get; init; }
    public int QuestionNeighbours { get; init; }
    public Retro.Engine.Retro.NeighbourCopy? NeighbourCopy { get; set; }

    /// <summary>When set, every feed starting at or after <see cref="GateFromLength"/> waits for a permit.</summary>
    public SemaphoreSlim? Gate { get; set; }

    /// <summary>Sequence length from which feeds wait for <see cref="Gate"/>.</summary>
    public int GateFromLength { get; set; }

    /// <summary>Logits favour EOS once the sequence is this long (0 = never).</summary>
    public int EosAtLength { get; set; }

    /// <summary>Every feed: (session, first position, tokens, neighbours).</summary>
    public ConcurrentQueue<(int Session, int Position, int[] Tokens, int[][] Neighbours)> Feeds { get; } = new();

    /// <summary>Completes when a session is disposed, with the number of tokens it was fed.</summary>
    public TaskCompletionSource<int> Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _sessions;

    public IRetroDecoderSession CreateSession() => new Session(this, Interlocked.Increment(ref _sessions));

    private sealed class Session(ScriptedDecoder owner, int id) : IRetroDecoderSession
    {
        private int _signature;

        public int Length { get; private set; }

        public void Feed(ReadOnlySpan<int> tokens, IReadOnlyList<int[]> neighbours, Span<float> logits)
        {
            int m = owner.ChunkSize;
            if (tokens.IsEmpty) throw new ArgumentException("no tokens");
            for (int i = 0; i < tokens.Length - 1; i++)
                if ((Length + i + 1) % m == 0) throw new ArgumentException($"token {i} completes a chunk; only the last may");
            bool completes = (Length + tokens.Length) % m == 0;
            if (!completes && neighbours.Count > 0) throw new ArgumentException("neighbours where no chunk completes");
            foreach (var n in neighbours)
                if (n.Length > owner.NeighbourLength) throw new ArgumentException("neighbour longer than r");
            if (Length + tokens.Length > owner.MaxSequenceLength) throw new ArgumentException("too long");
            if (Length >= owner.GateFromLength) owner.Gate?.Wait();

            owner.Feeds.Enqueue((id, Length, tokens.ToArray(), neighbours.Select(n => n.ToArray()).ToArray()));
            if (completes)
            {
                int s = 17;
                foreach (var n in neighbours) foreach (int t in n) s = unchecked(s * 31 + t);
                _signature = neighbours.Count == 0 ? 0 : s;
            }
            Length += tokens.Length;
            int last = tokens[^1];
            logits.Clear();
            if (owner.EosAtLength > 0 && Length >= owner.EosAtLength) { logits[ByteTokenizer.Eos] = 1; return; }
            int letter = 'a' + (int)((uint)(last * 7 + _signature) % 26);
            logits[letter] = 1;
        }

        public void Dispose() => owner.Disposed.TrySetResult(Length);
    }
}
