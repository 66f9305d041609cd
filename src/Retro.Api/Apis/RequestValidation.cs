using Retro.Api.Apis.Contracts;
using Retro.Api.Options;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Api.Apis;

/// <summary>A validated request: what to generate from, how, and whether to stream.</summary>
internal sealed record GenerationPlan(string Text, bool ClosedBook, RetrievalOptions Retrieval, GenerationOptions Generation, bool Stream)
{
    public string Mode => ClosedBook ? RequestValidation.ClosedBook : RequestValidation.Retrieval;
}

/// <summary>
/// Checks request bodies against the service's limits and fills unset fields from the configured defaults. Errors are
/// keyed by the JSON field name, as problem details' <c>errors</c>.
/// </summary>
internal static class RequestValidation
{
    public const string Retrieval = "retrieval";
    public const string ClosedBook = "closed-book";
    public const string Dense = "dense";
    public const string Sparse = "sparse";
    public const string Hybrid = "hybrid";
    public const int MaxK = 64;
    public const int MaxCandidates = 1000;
    public const int MaxStops = 4;
    public const int MaxStopChars = 64;

    public static GenerationPlan? Validate(AnswerRequest request, ServiceOptions service, RetrievalOptions retrieval, GenerationOptions generation, out Dictionary<string, string[]> errors)
        => Plan(request, "question", request.Question, service.MaxQuestionChars, stop: null, service, retrieval, generation, out errors);

    public static GenerationPlan? Validate(GenerateRequest request, ServiceOptions service, RetrievalOptions retrieval, GenerationOptions generation, out Dictionary<string, string[]> errors)
        => Plan(request, "prompt", request.Prompt, service.MaxPromptChars, request.Stop, service, retrieval, generation, out errors);

    public static RetrievalOptions? Validate(RetrieveRequest request, ServiceOptions service, RetrievalOptions retrieval, out Dictionary<string, string[]> errors)
    {
        errors = [];
        RequireText(errors, "query", request.Query, service.MaxQuestionChars);
        var options = RetrievalFrom(errors, request.K, request.Candidates, request.Rerank, request.RetrievalMode, retrieval);
        return errors.Count == 0 ? options : null;
    }

    /// <summary>The plan of a generation request: its text (the JSON field <paramref name="field"/>), then the shared fields.</summary>
    private static GenerationPlan? Plan(GenerationRequestBody request, string field, string? text, int maxChars, IReadOnlyList<string>? stop,
        ServiceOptions service, RetrievalOptions retrieval, GenerationOptions generation, out Dictionary<string, string[]> errors)
    {
        errors = [];
        RequireText(errors, field, text, maxChars);
        var (closedBook, retrievalOptions, generationOptions) = Shared(errors, request, stop, service, retrieval, generation);
        return errors.Count == 0 ? new GenerationPlan(text!, closedBook, retrievalOptions, generationOptions, request.Stream) : null;
    }

    private static (bool ClosedBook, RetrievalOptions Retrieval, GenerationOptions Generation) Shared(
        Dictionary<string, string[]> errors, GenerationRequestBody request, IReadOnlyList<string>? stop,
        ServiceOptions service, RetrievalOptions retrieval, GenerationOptions generation)
    {
        bool closedBook = false;
        if (request.Mode is not null and not Retrieval)
        {
            if (request.Mode == ClosedBook) closedBook = true;
            else errors["mode"] = [$"Unknown mode '{Shorten(request.Mode)}'; use \"{Retrieval}\" or \"{ClosedBook}\"."];
        }
        var retrievalOptions = RetrievalFrom(errors, request.K, request.Candidates, request.Rerank, request.RetrievalMode, retrieval);
        double gate = request.MinNeighbourMatch ?? retrieval.MinNeighbourMatch;
        if (!(gate >= 0 && gate <= 1)) errors["minNeighbourMatch"] = ["minNeighbourMatch must be between 0 (off) and 1."];
        else retrievalOptions = retrievalOptions with { MinNeighbourMatch = gate };
        int tail = request.NeighbourTail ?? retrieval.NeighbourTail;
        if (tail is < 0 or > 64) errors["neighbourTail"] = ["neighbourTail must be between 0 (off) and 64 tokens."];
        else retrievalOptions = retrievalOptions with { NeighbourTail = tail };
        retrievalOptions = retrievalOptions with { NeighbourCopy = request.NeighbourCopy ?? retrieval.NeighbourCopy };

        int tokens = request.MaxTokens ?? Math.Min(generation.MaxTokens, service.MaxTokensLimit);
        if (tokens < 1 || tokens > service.MaxTokensLimit) errors["maxTokens"] = [$"maxTokens must be between 1 and {service.MaxTokensLimit}."];
        float temp = request.Temperature ?? generation.Temperature;
        if (!(temp >= 0f && temp <= 10f)) errors["temperature"] = ["temperature must be between 0 and 10."];
        float p = request.TopP ?? generation.TopP;
        if (!(p > 0f && p <= 1f)) errors["topP"] = ["topP must be in (0, 1]."];
        int kTokens = request.TopK ?? generation.TopK;
        if (kTokens < 0) errors["topK"] = ["topK must be 0 (off) or positive."];
        float penalty = request.RepetitionPenalty ?? generation.RepetitionPenalty;
        if (!(penalty >= 1f && penalty <= 10f)) errors["repetitionPenalty"] = ["repetitionPenalty must be between 1 (off) and 10."];
        int ngram = request.NoRepeatNgramSize ?? generation.NoRepeatNgramSize;
        if (ngram is < 0 or > 64) errors["noRepeatNgramSize"] = ["noRepeatNgramSize must be between 0 (off) and 64."];
        if (stop is not null)
        {
            if (stop.Count > MaxStops) errors["stop"] = [$"At most {MaxStops} stop texts."];
            else
            {
                foreach (var s in stop)
                {
                    if (string.IsNullOrEmpty(s) || s.Length > MaxStopChars)
                    {
                        errors["stop"] = [$"Each stop text must have 1 to {MaxStopChars} characters."];
                        break;
                    }
                }
            }
        }
        var generationOptions = generation with
        {
            MaxTokens = tokens,
            Temperature = temp,
            TopP = p,
            TopK = kTokens,
            RepetitionPenalty = penalty,
            NoRepeatNgramSize = ngram,
            Seed = request.Seed ?? generation.Seed,
            Stop = stop ?? generation.Stop,
        };
        return (closedBook, retrievalOptions, generationOptions);
    }

    private static RetrievalOptions RetrievalFrom(Dictionary<string, string[]> errors, int? k, int? candidates, bool? rerank, string? retrievalMode, RetrievalOptions retrieval)
    {
        var searchMode = retrieval.Mode;
        if (retrievalMode is not null)
        {
            switch (retrievalMode)
            {
                case Dense: searchMode = RetrievalMode.Dense; break;
                case Sparse: searchMode = RetrievalMode.Sparse; break;
                case Hybrid: searchMode = RetrievalMode.Hybrid; break;
                default:
                    errors["retrievalMode"] = [$"Unknown retrievalMode '{Shorten(retrievalMode)}'; use \"{Dense}\", \"{Sparse}\" or \"{Hybrid}\"."];
                    break;
            }
        }
        int kk = k ?? retrieval.K;
        if (kk < 1 || kk > MaxK) errors["k"] = [$"k must be between 1 and {MaxK}."];
        int cc = candidates ?? Math.Max(retrieval.Candidates, kk);
        if (cc < 1 || cc > MaxCandidates) errors["candidates"] = [$"candidates must be between 1 and {MaxCandidates}."];
        else if (cc < kk) errors["candidates"] = [$"candidates ({cc}) must be at least k ({kk})."];
        return retrieval with { K = kk, Candidates = cc, Rerank = rerank ?? retrieval.Rerank, Mode = searchMode };
    }

    /// <summary>
    /// Adds an error when <paramref name="options"/> needs a text search that <paramref name="retriever"/> lacks (a store
    /// without a BM25 index behind a Core <see cref="Retriever"/>).
    /// </summary>
    public static void CheckRetriever(Dictionary<string, string[]> errors, RetrievalOptions options, IRetriever retriever)
    {
        if (options.Mode != RetrievalMode.Dense && retriever is Retriever { CanSearchText: false })
            errors["retrievalMode"] = [$"retrievalMode \"{ModeName(options.Mode)}\" needs a text (BM25) index, which this vector store does not have; use \"{Dense}\"."];
    }

    /// <summary>The wire name of a retrieval mode.</summary>
    public static string ModeName(RetrievalMode mode) => mode switch
    {
        RetrievalMode.Sparse => Sparse,
        RetrievalMode.Hybrid => Hybrid,
        _ => Dense,
    };

    /// <summary>The wire name of a neighbour's source.</summary>
    public static string SourceName(HitSource source) => source switch
    {
        HitSource.Sparse => Sparse,
        HitSource.Both => "both",
        _ => Dense,
    };

    private static void RequireText(Dictionary<string, string[]> errors, string field, string? text, int maxChars)
    {
        if (string.IsNullOrWhiteSpace(text)) errors[field] = [$"{field} is required and must not be blank."];
        else if (text.Length > maxChars) errors[field] = [$"{field} has {text.Length} characters; the limit is {maxChars}."];
    }

    private static string Shorten(string value) => value.Length <= 32 ? value : value[..32] + "…";
}
