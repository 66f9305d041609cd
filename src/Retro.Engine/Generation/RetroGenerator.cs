using System.Diagnostics;
using System.Runtime.CompilerServices;
using Retro.Core;
using Retro.Engine.Sampling;

namespace Retro.Engine.Generation;

/// <summary>
/// The RETRO generation loop (DESIGN.md, "RETRO, precisely"): tokenizes the prompt, retrieves neighbours for every
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

        int m = _decoder.ChunkSize;
        var prompt = PreparePrompt(request);
        int[] sequence = new int[Math.Min(_decoder.MaxSequenceLength, prompt.Tokens.Length + request.Generation.MaxTokens)];
        prompt.Tokens.CopyTo(sequence, 0);
        int n = prompt.Tokens.Length;
        int maxNew = sequence.Length - n;
        int completeChunks = n / m;

        using var activity = ActivitySource.StartActivity("generate");
        activity?.SetTag("retro.prompt_tokens", n);
        activity?.SetTag("retro.question", request.IsQuestion);

        using var pending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var retrievals = new Task<TimedRetrieval>[completeChunks];
        if (OverlapPromptRetrieval)
        {
            for (int u = 0; u < completeChunks; u++) retrievals[u] = RetrieveInBackground(retriever, u, prompt.Queries[u], request.Retrieval, pending.Token);
        }

        using var session = _decoder.CreateSession();
        var logits = new float[_decoder.VocabularySize];
        double retrieveMs = 0, waitMs = 0, encodeMs = 0, prefillMs = 0, decodeMs = 0;
        int retrievalCount = 0;
        try
        {
            // ---- prefill, chunk by chunk: tokens before a boundary, then the boundary token with its neighbours
            long prefillStart = Stopwatch.GetTimestamp();
            int pos = 0;
            for (int u = 0; u <= completeChunks && pos < n; u++)
            {
                int end = u < completeChunks ? (u + 1) * m : n;
                if (u == completeChunks)
                {
                    session.Feed(sequence.AsSpan(pos, end - pos), [], logits);
                    pos = end;
                    break;
                }
                if (end - 1 > pos) session.Feed(sequence.AsSpan(pos, end - 1 - pos), [], logits);

                long waitStart = Stopwatch.GetTimestamp();
                var retrieved = OverlapPromptRetrieval
                    ? await retrievals[u].ConfigureAwait(false)
                    : await RetrieveAsync(retriever, u, prompt.Queries[u], request.Retrieval, cancellationToken).ConfigureAwait(false);
                waitMs += Stopwatch.GetElapsedTime(waitStart).TotalMilliseconds;
                retrieveMs += retrieved.Milliseconds;
                retrievalCount++;
                yield return new ChunkRetrievedEvent(u, prompt.Queries[u], retrieved.Result.Neighbours, retrieved.Result.Timings);

                long encodeStart = Stopwatch.GetTimestamp();
                session.Feed(sequence.AsSpan(end - 1, 1), NeighbourTokens(retrieved.Result.Neighbours), logits);
                encodeMs += Stopwatch.GetElapsedTime(encodeStart).TotalMilliseconds;
                pos = end;
            }
            prefillMs = Stopwatch.GetElapsedTime(prefillStart).TotalMilliseconds - waitMs;

            // ---- decode: sample, emit, feed; retrieve whenever a generated token completes a chunk
            var sampler = new Sampler(_decoder.VocabularySize, SamplingOptions.From(request.Generation));
            var history = new List<int>(prompt.QuestionTokens.Length + maxNew);
            history.AddRange(prompt.QuestionTokens);
            var text = new IncrementalText(_decoder.Tokenizer, request.Generation.Stop);
            string finish = "length";
            long decodeStart = Stopwatch.GetTimestamp();
            int generated = 0;
            for (int i = 0; i < maxNew; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int next = sampler.Sample(logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                if (next == _decoder.EosTokenId) { finish = "eos"; break; }
                int position = n + i;
                sequence[position] = next;
                history.Add(next);
                generated++;
                bool stopped = text.Append(next, out string delta);
                yield return new TokenGeneratedEvent(next, position, delta);
                if (stopped) { finish = "stop"; break; }
                if (i == maxNew - 1) break; // the last token's logits are never used

                if ((position + 1) % m != 0)
                {
                    session.Feed(sequence.AsSpan(position, 1), [], logits);
                    continue;
                }
                int chunk = position / m;
                string query = _decoder.Tokenizer.Decode(sequence.AsSpan(chunk * m, m));
                long retrieveStart = Stopwatch.GetTimestamp();
                var retrieved = await RetrieveAsync(retriever, chunk, query, request.Retrieval, cancellationToken).ConfigureAwait(false);
                double ms = Stopwatch.GetElapsedTime(retrieveStart).TotalMilliseconds;
                retrieveMs += ms;
                waitMs += ms;
                retrievalCount++;
                yield return new ChunkRetrievedEvent(chunk, query, retrieved.Result.Neighbours, retrieved.Result.Timings);
                long encodeStart = Stopwatch.GetTimestamp();
                session.Feed(sequence.AsSpan(position, 1), NeighbourTokens(retrieved.Result.Neighbours), logits);
                double encode = Stopwatch.GetElapsedTime(encodeStart).TotalMilliseconds;
                encodeMs += encode;
                decodeMs -= ms;
            }
            decodeMs += Stopwatch.GetElapsedTime(decodeStart).TotalMilliseconds;

            activity?.SetTag("retro.generated_tokens", generated);
            activity?.SetTag("retro.finish_reason", finish);
            activity?.SetTag("retro.retrieval_wait_ms", waitMs);
            yield return new GenerationCompletedEvent(text.Final, finish, new GenerationStats
            {
                PromptTokens = n,
                GeneratedTokens = generated,
                Retrievals = retrievalCount,
                RetrieveMs = retrieveMs,
                EncodeNeighboursMs = encodeMs,
                PrefillMs = prefillMs,
                DecodeMs = decodeMs,
            });
        }
        finally
        {
            pending.Cancel();
            foreach (var task in retrievals)
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

    private readonly record struct TimedRetrieval(RetrievalResult Result, double Milliseconds);

    private static Task<TimedRetrieval> RetrieveInBackground(IRetriever retriever, int chunk, string query, RetrievalOptions options, CancellationToken cancellationToken)
        // The embedded store completes synchronously: run on the pool so the prefill proceeds meanwhile.
        => Task.Run(() => RetrieveAsync(retriever, chunk, query, options, cancellationToken).AsTask(), cancellationToken);

    private static async ValueTask<TimedRetrieval> RetrieveAsync(IRetriever retriever, int chunk, string query, RetrievalOptions options, CancellationToken cancellationToken)
    {
        using var activity = ActivitySource.StartActivity("retrieve");
        activity?.SetTag("retro.chunk", chunk);
        long start = Stopwatch.GetTimestamp();
        var result = await retriever.RetrieveAsync(query, options, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("retro.neighbours", result.Neighbours.Count);
        return new TimedRetrieval(result, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
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
