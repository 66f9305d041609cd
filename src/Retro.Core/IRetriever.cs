using Retro.Core.Options;

namespace Retro.Core;

/// <summary>For a chunk of input (or a question), the k neighbours RETRO conditions on.</summary>
public interface IRetriever
{
    /// <summary>
    /// Retrieves neighbours for <paramref name="query"/>: vector search for <see cref="RetrievalOptions.Candidates"/>,
    /// optional cross-encoder rerank, best <see cref="RetrievalOptions.K"/> returned best first.
    /// </summary>
    ValueTask<RetrievalResult> RetrieveAsync(string query, RetrievalOptions options, CancellationToken cancellationToken = default);
}

/// <summary>Neighbours of one query and what finding them cost.</summary>
public sealed record RetrievalResult(IReadOnlyList<Neighbour> Neighbours, RetrievalTimings Timings)
{
    public static readonly RetrievalResult Empty = new([], new RetrievalTimings());
}

/// <summary>
/// Time spent per retrieval stage, in milliseconds, measured once by the retriever (<see cref="Retriever"/>); callers
/// that report retrieval time (the generator's stats, the service's timings and histogram) read it from here.
/// </summary>
public sealed record RetrievalTimings
{
    public double EmbedMs { get; init; }
    public double SearchMs { get; init; }
    public double FetchMs { get; init; }
    public double RerankMs { get; init; }
    /// <summary>The whole retrieval, wall clock (the stages and what lies between them).</summary>
    public double TotalMs { get; init; }
}

/// <summary>Closed-book retrieval: no neighbours, ever.</summary>
public sealed class NullRetriever : IRetriever
{
    public static readonly NullRetriever Instance = new();

    public ValueTask<RetrievalResult> RetrieveAsync(string query, RetrievalOptions options, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(RetrievalResult.Empty);
}
