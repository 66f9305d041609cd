using System.Diagnostics;
using Retro.Api.Apis.Contracts;
using Retro.Api.Telemetry;
using Retro.Core;

namespace Retro.Api.Apis;

/// <summary>Folds a generation's events into the response pieces (neighbours per chunk, usage, timings) and records metrics.</summary>
internal sealed class GenerationCollector(GenerationPlan plan, ModelIds models)
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly List<ChunkNeighbours> _chunks = [];
    private double _embed, _search, _fetch, _rerank;

    public GenerationCompletedEvent? Completed { get; private set; }

    /// <summary>Folds one event in; returns the payload a stream sends for it.</summary>
    public object Add(GenerationEvent e)
    {
        switch (e)
        {
            case ChunkRetrievedEvent r:
                var chunk = new ChunkNeighbours(r.ChunkIndex, r.Query, Neighbours(r.Neighbours, r.Read));
                _chunks.Add(chunk);
                _embed += r.Timings.EmbedMs;
                _search += r.Timings.SearchMs;
                _fetch += r.Timings.FetchMs;
                _rerank += r.Timings.RerankMs;
                if (!plan.ClosedBook)
                    RetroTelemetry.RetrievalDuration.Record(r.Timings.TotalMs);
                return chunk;
            case TokenGeneratedEvent t:
                return new TokenEvent(t.TokenId, t.Position, t.Text);
            case GenerationCompletedEvent c:
                Completed = c;
                RetroTelemetry.GeneratedTokens.Add(c.Stats.GeneratedTokens);
                if (c.Stats.DecodeMs > 0 && c.Stats.GeneratedTokens > 0)
                    RetroTelemetry.TokensPerSecond.Record(c.Stats.GeneratedTokens * 1000.0 / c.Stats.DecodeMs);
                return c;
            default:
                throw new InvalidOperationException($"Unknown generation event {e.GetType().Name}.");
        }
    }

    public static string EventName(GenerationEvent e) => e switch
    {
        ChunkRetrievedEvent => "retrieval",
        TokenGeneratedEvent => "token",
        _ => "done",
    };

    public AnswerResponse ToAnswer() => Complete(new AnswerResponse(Done.Text));

    public GenerateResponse ToGenerate() => Complete(new GenerateResponse(Done.Text));

    /// <summary><paramref name="response"/> (the text) with the part every generation response shares.</summary>
    private T Complete<T>(T response) where T : GenerationResponseBody => (T)((GenerationResponseBody)response with
    {
        FinishReason = Done.FinishReason,
        Mode = plan.Mode,
        Chunks = _chunks,
        Usage = Usage(),
        Timings = Timings(),
        Models = models,
    });

    private GenerationCompletedEvent Done => Completed ?? throw new InvalidOperationException("The generator ended without a completion event.");

    private TokenUsage Usage() => new(Done.Stats.PromptTokens, Done.Stats.GeneratedTokens, Done.Stats.Retrievals);

    private Timings Timings() => new(_embed, _search, _fetch, _rerank, Done.Stats.EncodeNeighboursMs, Done.Stats.PrefillMs,
        Done.Stats.DecodeMs, Stopwatch.GetElapsedTime(_start).TotalMilliseconds);

    public static IReadOnlyList<NeighbourInfo> Neighbours(IReadOnlyList<Neighbour> neighbours, IReadOnlyList<bool>? read = null)
    {
        var list = new NeighbourInfo[neighbours.Count];
        for (int i = 0; i < list.Length; i++)
        {
            var n = neighbours[i];
            list[i] = new NeighbourInfo(n.Chunk.Id.ToString(), n.Chunk.Url, n.Chunk.Text, n.Chunk.ContinuationText, n.Score, n.RerankScore,
                RequestValidation.SourceName(n.Source), read is null || read[i]);
        }
        return list;
    }
}
