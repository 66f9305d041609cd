using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Retro.Api.Apis.Contracts;
using Retro.Core;

namespace Retro.Api.Apis;

/// <summary>
/// One generation behind an endpoint. It is started (prompt prepared, first event produced) before the response is
/// chosen, so a prompt the decoder refuses still becomes a 400 and a store outage on the first retrieval a 503;
/// failures after a stream has begun become an <c>error</c> event.
/// </summary>
internal sealed class GenerationRun
{
    private readonly IAsyncEnumerator<GenerationEvent> _events;
    private readonly GenerationEvent _first;
    private readonly ILogger _logger;

    private GenerationRun(IAsyncEnumerator<GenerationEvent> events, GenerationEvent first, GenerationCollector collector, ILogger logger)
    {
        _events = events;
        _first = first;
        Collector = collector;
        _logger = logger;
    }

    public GenerationCollector Collector { get; }

    /// <summary>Starts the generation; returns the run, or a validation problem keyed by <paramref name="field"/>.</summary>
    public static async Task<(GenerationRun? Run, ValidationProblem? Error)> StartAsync(
        IGenerator generator, IRetriever retriever, GenerationPlan plan, bool isQuestion, string field, ModelIds models, ILogger logger,
        CancellationToken cancellationToken)
    {
        var collector = new GenerationCollector(plan, models); // starts the request's clock
        var request = new GenerationRequest(plan.Text, plan.Generation, plan.Retrieval, isQuestion);
        var events = generator.GenerateAsync(request, plan.ClosedBook ? NullRetriever.Instance : retriever, cancellationToken)
            .GetAsyncEnumerator(cancellationToken);
        try
        {
            if (!await events.MoveNextAsync())
                throw new InvalidOperationException("The generator produced no events.");
        }
        catch (ArgumentException e)
        {
            await events.DisposeAsync();
            string message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            return (null, TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }));
        }
        catch
        {
            await events.DisposeAsync();
            throw;
        }
        return (new GenerationRun(events, events.Current, collector, logger), null);
    }

    /// <summary>Reads every event (for a non-streamed response).</summary>
    public async Task DrainAsync()
    {
        try
        {
            Collector.Add(_first);
            while (await _events.MoveNextAsync()) Collector.Add(_events.Current);
        }
        finally
        {
            await _events.DisposeAsync();
        }
    }

    /// <summary>The events as SSE items: <c>retrieval</c>, <c>token</c>, then <c>done</c> (payload from <paramref name="done"/>) or <c>error</c>.</summary>
    public async IAsyncEnumerable<SseItem<object>> StreamAsync(Func<GenerationCollector, object> done, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        try
        {
            var current = _first;
            while (true)
            {
                object payload = Collector.Add(current);
                if (current is GenerationCompletedEvent) payload = done(Collector);
                yield return new SseItem<object>(payload, GenerationCollector.EventName(current));

                Exception? failure = null;
                bool more;
                try
                {
                    more = await _events.MoveNextAsync();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failure = e;
                    more = false;
                }
                if (failure is not null)
                {
                    _logger.LogWarning(failure, "Generation failed after the stream had started");
                    yield return new SseItem<object>(Problem(failure), "error");
                    yield break;
                }
                if (!more) yield break;
                current = _events.Current;
            }
        }
        finally
        {
            await _events.DisposeAsync();
        }
    }

    private static ProblemDetails Problem(Exception e) => e is VectorStoreUnavailableException
        ? new ProblemDetails { Status = StatusCodes.Status503ServiceUnavailable, Title = "Vector store unavailable", Detail = "Retrieval could not reach the vector store." }
        : new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "Generation failed" };
}
