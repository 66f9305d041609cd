namespace Retro.Eval.Running;

/// <summary>
/// The result of one part of a run: a (task, dataset, mode, k, candidates, own-document exclusion) cell. Cached as JSON
/// under <c>parts/</c> by <see cref="Key"/>, so a rerun reuses it.
/// </summary>
internal sealed record PartResult
{
    /// <summary>Hash of the part's config, the model ids, the dataset hash and the seed.</summary>
    public string Key { get; init; } = "";
    /// <summary><c>lm</c>, <c>qa</c> or <c>retrieval</c>.</summary>
    public string Task { get; init; } = "";
    public string Dataset { get; init; } = "";
    public string Mode { get; init; } = "";
    /// <summary>Neighbours per chunk (0 in closed-book; the retrieval depth for retrieval tasks).</summary>
    public int K { get; init; }
    /// <summary>Candidates before reranking (0 when not reranked).</summary>
    public int Candidates { get; init; }
    /// <summary>Retrieval only: the candidate search (<c>sparse</c>, <c>hybrid</c>); null = dense (the bi-encoder).</summary>
    public string? Search { get; init; }
    /// <summary>LM only: whether the scored document was excluded from its own retrieval.</summary>
    public bool? ExcludeOwnDocument { get; init; }
    /// <summary>LM only: the neighbour gate (<see cref="Core.Options.RetrievalOptions.MinNeighbourMatch"/>); null = off.</summary>
    public double? MinNeighbourMatch { get; init; }
    /// <summary>LM only: the gate's tail test in tokens (<see cref="Core.Options.RetrievalOptions.NeighbourTail"/>); null = off.</summary>
    public int? NeighbourTail { get; init; }
    /// <summary>
    /// True when the decoder's neighbour copy was mixed in (<see cref="Core.Options.RetrievalOptions.NeighbourCopy"/>, a
    /// decoder with a fitted table, a mode with retrieval); null = not.
    /// </summary>
    public bool? NeighbourCopy { get; init; }
    /// <summary>Metric name to value (bpb, em, f1, recall@k, mrr@10, ndcg@10, ...).</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>Counts (documents, tokens, bytes, questions, ...).</summary>
    public Dictionary<string, long> Counts { get; init; } = [];
    /// <summary>Mean milliseconds per query (retrieval tasks, QA) or per document (LM) per stage: embed, search, fetch, rerank, model; and wall.</summary>
    public Dictionary<string, double> Timings { get; init; } = [];
    /// <summary>LM only: BPB by chunk overlap with the neighbours attended to.</summary>
    public List<OverlapBucket>? Overlap { get; init; }
    /// <summary>QA only: the first few predictions, for reading the report.</summary>
    public List<QaExample>? Examples { get; init; }

    /// <summary>A readable name of the cell, e.g. <c>qa/squad/rerank k=2 c=16</c>.</summary>
    public string Label => $"{Task}/{Dataset}/{Mode}" + (Search is { } s ? $"/{s}" : "") + (K > 0 ? $" k={K}" : "") + (Candidates > 0 ? $" c={Candidates}" : "")
        + (ExcludeOwnDocument is { } e && Mode != Running.Mode.ClosedBook ? (e ? " excl" : " incl") : "") + GateLabel(MinNeighbourMatch, NeighbourTail, NeighbourCopy);

    /// <summary>
    /// " gate≥0.25" for a gated part, " gate≥0.125 tail 4" with a tail test, " tail 4" for the tail alone, each followed by
    /// " copy" when the neighbour copy was mixed in; else "".
    /// </summary>
    public static string GateLabel(double? minMatch, int? tail = null, bool? copy = null)
        => (minMatch is { } g and > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $" gate≥{g:0.###}") : "")
           + (tail is { } t and > 0 ? $" tail {t}" : "") + (copy == true ? " copy" : "");
}

/// <summary>Tokens predicted while attending to neighbours whose overlap with the predicted chunk falls in a range.</summary>
/// <param name="Label">Range, e.g. "≤12.5%", or "none" for tokens that attend to no neighbours.</param>
/// <param name="Chunks">Predicted chunks (or chunk starts) in the bucket.</param>
/// <param name="Tokens">Predicted tokens in the bucket.</param>
/// <param name="Bytes">UTF-8 bytes those tokens cover.</param>
/// <param name="Bits">Σ −log2 p over those tokens.</param>
internal sealed record OverlapBucket(string Label, long Chunks, long Tokens, long Bytes, double Bits)
{
    /// <summary>Bits per byte of the bucket (NaN when empty).</summary>
    public double Bpb => Bytes == 0 ? double.NaN : Bits / Bytes;
}

/// <summary>One QA prediction.</summary>
internal sealed record QaExample(string Id, string Question, string Prediction, IReadOnlyList<string> Answers, double Em, double F1);
