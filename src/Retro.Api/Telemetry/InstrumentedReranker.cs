using System.Diagnostics;
using Retro.Core;

namespace Retro.Api.Telemetry;

/// <summary>An <see cref="IReranker"/> that records a <c>rerank</c> span around the reranker.</summary>
internal sealed class InstrumentedReranker(IReranker inner) : IReranker
{
    public string ModelId => inner.ModelId;

    public bool WeighsFirstStage => inner.WeighsFirstStage;

    public void Score(string query, IReadOnlyList<Neighbour> candidates, Span<float> scores)
    {
        using var activity = RetroTelemetry.ActivitySource.StartActivity("rerank");
        activity?.SetTag("retro.candidates", candidates.Count);
        inner.Score(query, candidates, scores);
    }

    public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
    {
        using var activity = RetroTelemetry.ActivitySource.StartActivity("rerank");
        activity?.SetTag("retro.candidates", candidates.Length);
        inner.Score(query, candidates, scores);
    }
}
