using System.Diagnostics;
using System.Runtime.CompilerServices;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Retro;
using Retro.Engine.Sampling;

namespace Retro.Engine.Generation;

/// <summary>
/// The RETRO generation loop (docs/architecture.md, "A question" and "RETRO, precisely"): tokenizes the prompt, retrieves neighbours for every
/// completed m-token chunk of the prompt and of the generated text (query = the chunk's text), feeds the decoder
/// chunk by chunk with those neighbours, samples per <see cref="GenerationOptions"/> and streams
/// <see cref="GenerationEvent"/>s. A question is left-padded to whole chunks, retrieved for with the question text,
/// and answered from the next chunk on. The prompt's chunks are all known up front, so their retrievals run
/// concurrently with the prefill (<see cref="OverlapPromptRetrieval"/>). Thread-safe: each call has its own session.
/// </summary>
public sealed class RetroGenerator : IGenerator
{
    /// <summary>Source of the <c>generate</c> and per-chunk <c>retrieve</c> spans.</summary>
    public static readonly ActivitySource ActivitySource = new("Retro.Generation");

    private readonly IRetroDecoder _decoder;

    /// <summary>Creates the loop over <paramref name="decoder"/>.</summary>
    public RetroGenerator(IRetroDecoder decoder)
    {
        _decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));
    }

    /// <summary>
    /// True (default): the neighbours of every complete prompt chunk are retrieved concurrently with each other and
    /// with the prefill. False: each is retrieved only when the prefill reaches its chunk (for measuring the gain).
    /// </summary>
    public bool OverlapPromptRetrieval { get; init; } = true;

    /// <inheritdoc />
    public string ModelId => _decoder.ModelId;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The prompt is empty or does not fit the decoder's context.</exception>
    /// <exception cref="VectorStoreUnavailableException">Retrieval could not reach the store.</exception>
    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(
        GenerationRequest request, IRetriever retriever, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(retriever);
        ArgumentNullException.ThrowIfNull(request.Prompt, nameof(request.Prompt));
        cancellationToken.ThrowIfCancellationRequested();

        var prompt = PreparePrompt(request);
        using var activity = ActivitySource.StartActivity("generate");
        activity?.SetTag("retro.prompt_tokens", prompt.Tokens.Length);
        activity?.SetTag("retro.question", request.IsQuestion);

        using var run = new Run(this, request, retriever, prompt, cancellationToken);
        await foreach (var e in run.PrefillAsync().ConfigureAwait(false)) yield return e;
        await foreach (var e in run.DecodeAsync().ConfigureAwait(false)) yield return e;
        yield return run.Complete(activity);
    }

    /// <summary>
    /// One generation: the sequence, the decoder session and the clocks, through its steps: the prompt's retrievals
    /// started (when overlapped), the prefill chunk by chunk, the decode token by token, the completion.
    /// </summary>
    private sealed class Run : IDisposable
    {
        private readonly RetroGenerator _generator;
        private readonly IRetroDecoder _decoder;
        private readonly GenerationRequest _request;
        private readonly IRetriever _retriever;
        private readonly PreparedPrompt _prompt;
        private readonly CancellationToken _cancellationToken;
        private readonly CancellationTokenSource _pending;
        private readonly Task<RetrievalResult>[] _retrievals;
        private readonly IRetroDecoderSession _session;
        private readonly int[] _sequence;
        private readonly float[] _logits;
        private readonly IncrementalText _text;
        private readonly NeighbourCopy? _copy;
        private readonly (int[][] Tokens, bool[] Read)?[] _copyCandidates; // per chunk: its retrieved neighbours, read or not
        private double _retrieveMs, _waitMs, _encodeMs, _prefillMs, _decodeMs;
        private int _retrievalCount, _generated;
        private string _finish = "length";

        public Run(RetroGenerator generator, GenerationRequest request, IRetriever retriever, PreparedPrompt prompt, CancellationToken cancellationToken)
        {
            (_generator, _decoder, _request, _retriever, _prompt, _cancellationToken) = (generator, generator._decoder, request, retriever, prompt, cancellationToken);
            _sequence = new int[Math.Min(_decoder.MaxSequenceLength, prompt.Tokens.Length + request.Generation.MaxTokens)];
            prompt.Tokens.CopyTo(_sequence, 0);
            _pending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _retrievals = new Task<RetrievalResult>[CompleteChunks];
            if (generator.OverlapPromptRetrieval)
            {
                for (int u = 0; u < _retrievals.Length; u++)
                    _retrievals[u] = RetrieveInBackground(retriever, u, prompt.Queries[u], request.Retrieval, _pending.Token);
            }
            try
            {
                _session = _decoder.CreateSession();
            }
            catch
            {
                StopRetrievals();
                _pending.Dispose();
                throw;
            }
            _logits = new float[_decoder.VocabularySize];
            _text = new IncrementalText(_decoder.Tokenizer, request.Generation.Stop);
            _copy = request.Retrieval.NeighbourCopy ? _decoder.NeighbourCopy : null;
            _copyCandidates = new (int[][], bool[])?[_sequence.Length / _decoder.ChunkSize + 1];
        }

        private int PromptLength => _prompt.Tokens.Length;

        private int CompleteChunks => PromptLength / _decoder.ChunkSize;

        /// <summary>Prefill, chunk by chunk: the tokens before a boundary, then the boundary token with its chunk's neighbours.</summary>
        public async IAsyncEnumerable<GenerationEvent> PrefillAsync()
        {
            int m = _decoder.ChunkSize, n = PromptLength, completeChunks = CompleteChunks;
            long prefillStart = Stopwatch.GetTimestamp();
            int pos = 0;
            for (int u = 0; u <= completeChunks && pos < n; u++)
            {
                int end = u < completeChunks ? (u + 1) * m : n;
                if (u == completeChunks)
                {
                    _session.Feed(_sequence.AsSpan(pos, end - pos), [], _logits);
                    break;
                }
                if (end - 1 > pos) _session.Feed(_sequence.AsSpan(pos, end - 1 - pos), [], _logits);

                long waitStart = Stopwatch.GetTimestamp();
                var retrieved = _generator.OverlapPromptRetrieval
                    ? await _retrievals[u].ConfigureAwait(false)
                    : await RetrieveAsync(_retriever, u, _prompt.Queries[u], _request.Retrieval, _cancellationToken).ConfigureAwait(false);
                _waitMs += Stopwatch.GetElapsedTime(waitStart).TotalMilliseconds;
                var (read, flags) = Reading(end - 1, retrieved);
                yield return Retrieved(u, _prompt.Queries[u], retrieved, flags);

                Feed(end - 1, read);
                pos = end;
            }
            _prefillMs = Stopwatch.GetElapsedTime(prefillStart).TotalMilliseconds - _waitMs;
        }

        /// <summary>Decode: sample, emit, feed; retrieve whenever a generated token completes a chunk.</summary>
        public async IAsyncEnumerable<GenerationEvent> DecodeAsync()
        {
            int m = _decoder.ChunkSize, n = PromptLength, maxNew = _sequence.Length - n;
            var sampler = new Sampler(_decoder.VocabularySize, SamplingOptions.From(_request.Generation));
            var history = new List<int>(_prompt.QuestionTokens.Length + maxNew);
            history.AddRange(_prompt.QuestionTokens);
            long decodeStart = Stopwatch.GetTimestamp();
            for (int i = 0; i < maxNew; i++)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                MixCopy(n + i);
                int next = sampler.Sample(_logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                if (next == _decoder.EosTokenId) { _finish = "eos"; break; }
                int position = n + i;
                _sequence[position] = next;
                history.Add(next);
                _generated++;
                bool stopped = _text.Append(next, out string delta);
                yield return new TokenGeneratedEvent(next, position, delta);
                if (stopped) { _finish = "stop"; break; }
                if (i == maxNew - 1) break; // the last token's logits are never used

                if ((position + 1) % m != 0)
                {
                    _session.Feed(_sequence.AsSpan(position, 1), [], _logits);
                    continue;
                }
                int chunk = position / m;
                string query = _decoder.Tokenizer.Decode(_sequence.AsSpan(chunk * m, m));
                long waitStart = Stopwatch.GetTimestamp();
                var retrieved = await RetrieveAsync(_retriever, chunk, query, _request.Retrieval, _cancellationToken).ConfigureAwait(false);
                double waited = Stopwatch.GetElapsedTime(waitStart).TotalMilliseconds;
                _waitMs += waited;
                _decodeMs -= waited;
                var (read, flags) = Reading(position, retrieved);
                yield return Retrieved(chunk, query, retrieved, flags);
                Feed(position, read);
            }
            _decodeMs += Stopwatch.GetElapsedTime(decodeStart).TotalMilliseconds;
        }

        /// <summary>The final event, with the counts and the clocks; tags the generation's span.</summary>
        public GenerationCompletedEvent Complete(Activity? activity)
        {
            activity?.SetTag("retro.generated_tokens", _generated);
            activity?.SetTag("retro.finish_reason", _finish);
            activity?.SetTag("retro.retrieval_wait_ms", _waitMs);
            return new GenerationCompletedEvent(_text.Final, _finish, new GenerationStats
            {
                PromptTokens = PromptLength,
                GeneratedTokens = _generated,
                Retrievals = _retrievalCount,
                RetrieveMs = _retrieveMs,
                EncodeNeighboursMs = _encodeMs,
                PrefillMs = _prefillMs,
                DecodeMs = _decodeMs,
            });
        }

        private ChunkRetrievedEvent Retrieved(int chunk, string query, RetrievalResult result, bool[] flags)
        {
            _retrieveMs += result.Timings.TotalMs; // measured once, by the retriever
            _retrievalCount++;
            return new ChunkRetrievedEvent(chunk, query, result.Neighbours, result.Timings) { Read = flags };
        }

        /// <summary>
        /// Mixes the neighbour copy's proposal for the token at <paramref name="next"/> into the logits, from the
        /// neighbours retrieved for the chunk before that token's (<see cref="NeighbourCopy"/>); nothing when the copy is
        /// off, the decoder has none, or that chunk retrieved nothing.
        /// </summary>
        private void MixCopy(int next)
        {
            int c = next / _decoder.ChunkSize;
            if (_copy is null || c < 1 || _copyCandidates[c - 1] is not { } candidates) return;
            NeighbourCopy.Mix(_logits, _copy.Propose(_sequence.AsSpan(0, next), candidates.Tokens, candidates.Read));
        }

        private bool IsQuestionChunk(int position) => _request.IsQuestion && position == PromptLength - 1;

        /// <summary>
        /// The neighbours the decoder reads for the chunk that the token at <paramref name="position"/> completes (a
        /// question's per the model's question layout, any other chunk's through the neighbour gate) and the read flag of
        /// each retrieved one; records the chunk's candidates for the neighbour copy.
        /// </summary>
        private (IReadOnlyList<Neighbour> Read, bool[] Flags) Reading(int position, RetrievalResult retrieved)
        {
            int m = _decoder.ChunkSize;
            var read = IsQuestionChunk(position)
                ? _generator.QuestionNeighbours(retrieved.Neighbours)
                : NeighbourGate.Read(retrieved.Neighbours, _sequence.AsSpan(position + 1 - m, m), _request.Retrieval.MinNeighbourMatch, _request.Retrieval.NeighbourTail);
            var flags = NeighbourGate.Flags(retrieved.Neighbours, read);
            // a question's passages are not copied from: the decoder answers from them in its question layout, and a
            // pointer fitted on running text pulls the answer to the passage's wording (docs/training.md, "The neighbour copy")
            if (_copy is not null && retrieved.Neighbours.Count > 0 && !IsQuestionChunk(position))
                _copyCandidates[position / m] = ([.. _generator.NeighbourTokens(retrieved.Neighbours)], flags);
            return (read, flags);
        }

        /// <summary>Feeds the token at <paramref name="position"/>, which completes a chunk, with the neighbours read for that chunk.</summary>
        private void Feed(int position, IReadOnlyList<Neighbour> read)
        {
            long encodeStart = Stopwatch.GetTimestamp();
            int m = _decoder.ChunkSize;
            var neighbours = IsQuestionChunk(position)
                ? _generator.QuestionNeighbourTokens(read, _sequence.AsSpan(position + 1 - m, m))
                : _generator.NeighbourTokens(read);
            _session.Feed(_sequence.AsSpan(position, 1), neighbours, _logits);
            _encodeMs += Stopwatch.GetElapsedTime(encodeStart).TotalMilliseconds;
        }

        /// <summary>Stops the prompt's retrievals still running and observes their outcome; frees the session.</summary>
        public void Dispose()
        {
            StopRetrievals();
            _session.Dispose();
            _pending.Dispose();
        }

        private void StopRetrievals()
        {
            _pending.Cancel();
            foreach (var task in _retrievals)
            {
                // Retrievals never awaited (an earlier one failed, or the caller stopped): observe their outcome.
                if (task is { IsCompleted: false } or { IsFaulted: true })
                    _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
    }

    // ---- prompt preparation

    private sealed record PreparedPrompt(int[] Tokens, int[] QuestionTokens, string[] Queries);

    private PreparedPrompt PreparePrompt(GenerationRequest request)
    {
        int m = _decoder.ChunkSize;
        int[] ids = _decoder.Tokenizer.Encode(request.Prompt);
        if (ids.Length == 0) throw new ArgumentException("The prompt has no tokens.", nameof(request));

        int[] tokens = ids;
        if (request.IsQuestion)
        {
            int pad = _decoder.PadTokenId >= 0 ? _decoder.PadTokenId : _decoder.EosTokenId;
            if (pad < 0) throw new InvalidOperationException($"Decoder {_decoder.ModelId} has neither pad_token_id nor eos_token_id to left-pad a question with.");
            int padded = (ids.Length + m - 1) / m * m;
            tokens = new int[padded];
            tokens.AsSpan(0, padded - ids.Length).Fill(pad);
            ids.CopyTo(tokens, padded - ids.Length);
        }
        if (tokens.Length >= _decoder.MaxSequenceLength)
            throw new ArgumentException($"The prompt takes {tokens.Length} tokens; the decoder's context is {_decoder.MaxSequenceLength}.", nameof(request));

        var queries = new string[tokens.Length / m];
        for (int u = 0; u < queries.Length; u++)
        {
            bool lastQuestionChunk = request.IsQuestion && u == queries.Length - 1;
            queries[u] = lastQuestionChunk ? request.Prompt : _decoder.Tokenizer.Decode(tokens.AsSpan(u * m, m));
        }
        return new PreparedPrompt(tokens, ids, queries);
    }

    // ---- retrieval

    private static Task<RetrievalResult> RetrieveInBackground(IRetriever retriever, int chunk, string query, RetrievalOptions options, CancellationToken cancellationToken)
        // The embedded store completes synchronously: run on the pool so the prefill proceeds meanwhile.
        => Task.Run(() => RetrieveAsync(retriever, chunk, query, options, cancellationToken).AsTask(), cancellationToken);

    private static async ValueTask<RetrievalResult> RetrieveAsync(IRetriever retriever, int chunk, string query, RetrievalOptions options, CancellationToken cancellationToken)
    {
        using var activity = ActivitySource.StartActivity("retrieve");
        activity?.SetTag("retro.chunk", chunk);
        var result = await retriever.RetrieveAsync(query, options, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("retro.neighbours", result.Neighbours.Count);
        return result;
    }

    /// <summary>
    /// The neighbours of a question's chunk per the model's <see cref="IRetroDecoder.QuestionLayout"/> and
    /// <see cref="IRetroDecoder.QuestionNeighbours"/>: with <see cref="QuestionLayout.Answer"/> each is the question chunk's
    /// m tokens followed by the neighbour's chunk and continuation, cut to r (train_qa.py's question_neighbour).
    /// </summary>
    private IReadOnlyList<Neighbour> QuestionNeighbours(IReadOnlyList<Neighbour> neighbours)
    {
        int keep = _decoder.QuestionNeighbours;
        return keep > 0 && neighbours.Count > keep ? neighbours.Take(keep).ToArray() : neighbours;
    }

    /// <summary>The tokens of a question chunk's <paramref name="chosen"/> neighbours (<see cref="QuestionNeighbours"/>).</summary>
    private IReadOnlyList<int[]> QuestionNeighbourTokens(IReadOnlyList<Neighbour> chosen, ReadOnlySpan<int> questionChunk)
    {
        if (_decoder.QuestionLayout != QuestionLayout.Answer) return NeighbourTokens(chosen);
        int r = _decoder.NeighbourLength;
        var tokens = new int[chosen.Count][];
        for (int j = 0; j < tokens.Length; j++)
        {
            int[] all = chosen[j].Chunk.NeighbourTokens();
            var t = new int[Math.Min(r, questionChunk.Length + all.Length)];
            int q = Math.Min(questionChunk.Length, t.Length);
            questionChunk[..q].CopyTo(t);
            all.AsSpan(0, t.Length - q).CopyTo(t.AsSpan(q));
            tokens[j] = t;
        }
        return tokens;
    }

    private IReadOnlyList<int[]> NeighbourTokens(IReadOnlyList<Neighbour> neighbours)
    {
        if (neighbours.Count == 0) return [];
        int r = _decoder.NeighbourLength;
        var tokens = new int[neighbours.Count][];
        for (int j = 0; j < tokens.Length; j++)
        {
            int[] all = neighbours[j].Chunk.NeighbourTokens();
            tokens[j] = all.Length <= r ? all : all[..r];
        }
        return tokens;
    }
}
