using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Retro.Api.Apis.Contracts;
using Retro.Api.Options;
using Retro.Api.Telemetry;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Api.Apis;

/// <summary>The question-answering endpoints: <c>/v1/answer</c>, <c>/v1/generate</c>, <c>/v1/retrieve</c>.</summary>
public static class QuestionApi
{
    /// <summary>Rate-limiter policy shared by the /v1 endpoints (a concurrency limit with a bounded queue).</summary>
    public const string ConcurrencyPolicy = "generation";

    /// <summary>Maps the /v1 endpoints.</summary>
    public static IEndpointRouteBuilder MapQuestionApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1")
            .WithTags("Questions")
            .RequireRateLimiting(ConcurrencyPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        MapGeneration<AnswerResponse>(api, "/answer", AnswerAsync, "Answer", "Answer a question with RETRO",
            "Retrieves neighbours for the question (mode \"retrieval\") or none (\"closed-book\"), generates the answer, "
            + "and returns it with the neighbours used for every chunk, token counts, timings and model ids. "
            + "With stream = true the answer comes as Server-Sent Events: retrieval, token, done.");
        MapGeneration<GenerateResponse>(api, "/generate", GenerateAsync, "Generate", "Continue a prompt with RETRO",
            "Retrieves for every completed 64-token chunk of the prompt and of the generated text. With stream = true: "
            + "Server-Sent Events, a retrieval event at every chunk boundary before the tokens that use it, tokens as they come, and done.");
        api.MapPost("/retrieve", RetrieveAsync)
            .WithName("Retrieve")
            .WithSummary("Retrieve and rerank chunks for a query");
        return app;
    }

    /// <summary>A generation endpoint: JSON of <typeparamref name="TResponse"/>, or its events as Server-Sent Events.</summary>
    private static void MapGeneration<TResponse>(RouteGroupBuilder api, string pattern, Delegate handler, string name, string summary, string description) =>
        api.MapPost(pattern, handler)
            .WithName(name)
            .WithSummary(summary)
            .Produces<TResponse>(StatusCodes.Status200OK, "application/json")
            .AddOpenApiOperationTransformer(OpenApiStreams.AddEventStream)
            .WithDescription(description);

    /// <summary>POST /v1/answer.</summary>
    public static Task<Results<Ok<AnswerResponse>, ServerSentEventsResult<object>, ValidationProblem>> AnswerAsync(
        AnswerRequest request, IGenerator generator, IRetriever retriever, ModelIds models, IOptions<ServiceOptions> service,
        IOptions<RetrievalOptions> retrieval, IOptions<GenerationOptions> generation, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var plan = RequestValidation.Validate(request, service.Value, retrieval.Value, generation.Value, out var errors);
        return GenerationAsync(plan, errors, isQuestion: true, "question", c => c.ToAnswer(), generator, retriever, models, loggers, cancellationToken);
    }

    /// <summary>POST /v1/generate.</summary>
    public static Task<Results<Ok<GenerateResponse>, ServerSentEventsResult<object>, ValidationProblem>> GenerateAsync(
        GenerateRequest request, IGenerator generator, IRetriever retriever, ModelIds models, IOptions<ServiceOptions> service,
        IOptions<RetrievalOptions> retrieval, IOptions<GenerationOptions> generation, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var plan = RequestValidation.Validate(request, service.Value, retrieval.Value, generation.Value, out var errors);
        return GenerationAsync(plan, errors, isQuestion: false, "prompt", c => c.ToGenerate(), generator, retriever, models, loggers, cancellationToken);
    }

    /// <summary>
    /// What both generation endpoints do with a validated request: 400 on a bad one (the text's errors keyed by
    /// <paramref name="field"/>), else the generation, streamed or collected into <paramref name="respond"/>'s response.
    /// </summary>
    private static async Task<Results<Ok<TResponse>, ServerSentEventsResult<object>, ValidationProblem>> GenerationAsync<TResponse>(
        GenerationPlan? plan, Dictionary<string, string[]> errors, bool isQuestion, string field, Func<GenerationCollector, TResponse> respond,
        IGenerator generator, IRetriever retriever, ModelIds models, ILoggerFactory loggers, CancellationToken cancellationToken)
        where TResponse : GenerationResponseBody
    {
        if (plan is not null && !plan.ClosedBook) RequestValidation.CheckRetriever(errors, plan.Retrieval, retriever);
        if (plan is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var (run, error) = await GenerationRun.StartAsync(generator, retriever, plan, isQuestion, field, models,
            loggers.CreateLogger(typeof(QuestionApi)), cancellationToken);
        if (run is null) return error!;
        if (plan.Stream) return TypedResults.ServerSentEvents(run.StreamAsync(c => respond(c), cancellationToken));
        await run.DrainAsync();
        return TypedResults.Ok(respond(run.Collector));
    }

    /// <summary>POST /v1/retrieve.</summary>
    public static async Task<Results<Ok<RetrieveResponse>, ValidationProblem>> RetrieveAsync(
        RetrieveRequest request, IRetriever retriever, ModelIds models, IOptions<ServiceOptions> service, IOptions<RetrievalOptions> retrieval,
        CancellationToken cancellationToken)
    {
        var options = RequestValidation.Validate(request, service.Value, retrieval.Value, out var errors);
        if (options is not null) RequestValidation.CheckRetriever(errors, options, retriever);
        if (options is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);
        using var activity = RetroTelemetry.ActivitySource.StartActivity("retrieve");
        var result = await retriever.RetrieveAsync(request.Query!, options, cancellationToken);
        var t = result.Timings;
        RetroTelemetry.RetrievalDuration.Record(t.TotalMs);
        return TypedResults.Ok(new RetrieveResponse(request.Query!, GenerationCollector.Neighbours(result.Neighbours),
            new Timings(t.EmbedMs, t.SearchMs, t.FetchMs, t.RerankMs, 0, 0, 0, t.TotalMs), models));
    }
}
