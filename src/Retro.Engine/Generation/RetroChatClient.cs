using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Engine.Generation;

/// <summary>
/// <see cref="IChatClient"/> over an <see cref="IGenerator"/>: a single user message is answered as a question
/// (left-padded, retrieved for, answered from the next chunk); several messages are joined, one per line, into a
/// prompt to continue. <see cref="ChatOptions"/> override the defaults (max tokens, temperature, top-p, top-k, seed,
/// stop sequences); <c>AdditionalProperties["retro.mode"] = "closed-book"</c> turns retrieval off. The neighbours used
/// per chunk are returned in the response's <c>AdditionalProperties["retro.chunks"]</c> as
/// <see cref="ChunkRetrievedEvent"/>s. Thread-safe.
/// </summary>
public sealed class RetroChatClient : IChatClient
{
    /// <summary>Key of <see cref="ChatOptions.AdditionalProperties"/> selecting <c>retrieval</c> or <c>closed-book</c>.</summary>
    public const string ModeProperty = "retro.mode";

    /// <summary>Key of the response's <see cref="ChatResponse.AdditionalProperties"/> holding the retrieval events.</summary>
    public const string ChunksProperty = "retro.chunks";

    private readonly IGenerator _generator;
    private readonly IRetriever _retriever;
    private readonly GenerationOptions _generation;
    private readonly RetrievalOptions _retrieval;

    /// <summary>Creates the client with the service's default generation and retrieval options.</summary>
    public RetroChatClient(IGenerator generator, IRetriever retriever, GenerationOptions generation, RetrievalOptions retrieval)
    {
        _generator = generator ?? throw new ArgumentNullException(nameof(generator));
        _retriever = retriever ?? throw new ArgumentNullException(nameof(retriever));
        _generation = generation ?? throw new ArgumentNullException(nameof(generation));
        _retrieval = retrieval ?? throw new ArgumentNullException(nameof(retrieval));
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (request, retriever) = Prepare(messages, options);
        var chunks = new List<ChunkRetrievedEvent>();
        GenerationCompletedEvent? done = null;
        await foreach (var e in _generator.GenerateAsync(request, retriever, cancellationToken).ConfigureAwait(false))
        {
            if (e is ChunkRetrievedEvent r) chunks.Add(r);
            else if (e is GenerationCompletedEvent c) done = c;
        }
        if (done is null) throw new InvalidOperationException("The generator ended without a completion event.");
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, done.Text))
        {
            ModelId = _generator.ModelId,
            FinishReason = FinishReason(done.FinishReason),
            Usage = new UsageDetails
            {
                InputTokenCount = done.Stats.PromptTokens,
                OutputTokenCount = done.Stats.GeneratedTokens,
                TotalTokenCount = done.Stats.PromptTokens + done.Stats.GeneratedTokens,
            },
            AdditionalProperties = new AdditionalPropertiesDictionary { [ChunksProperty] = chunks },
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (request, retriever) = Prepare(messages, options);
        await foreach (var e in _generator.GenerateAsync(request, retriever, cancellationToken).ConfigureAwait(false))
        {
            switch (e)
            {
                case TokenGeneratedEvent t when t.Text.Length > 0:
                    yield return new ChatResponseUpdate(ChatRole.Assistant, t.Text) { ModelId = _generator.ModelId };
                    break;
                case GenerationCompletedEvent c:
                    yield return new ChatResponseUpdate(ChatRole.Assistant, (string?)null)
                    {
                        ModelId = _generator.ModelId,
                        FinishReason = FinishReason(c.FinishReason),
                        Contents = [new UsageContent(new UsageDetails { InputTokenCount = c.Stats.PromptTokens, OutputTokenCount = c.Stats.GeneratedTokens })],
                    };
                    break;
            }
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("retro", null, _generator.ModelId);
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(_generator) ? _generator : null;
    }

    /// <summary>Nothing to release: the generator is owned by its creator.</summary>
    public void Dispose() { }

    private (GenerationRequest, IRetriever) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.Where(m => !string.IsNullOrWhiteSpace(m.Text)).ToList();
        if (list.Count == 0) throw new ArgumentException("No message has text.", nameof(messages));
        bool question = list.Count == 1 && list[0].Role == ChatRole.User;
        var prompt = new StringBuilder();
        foreach (var m in list)
        {
            if (prompt.Length > 0) prompt.Append('\n');
            prompt.Append(m.Text);
        }

        var generation = _generation;
        if (options is not null)
        {
            generation = generation with
            {
                MaxTokens = options.MaxOutputTokens ?? generation.MaxTokens,
                Temperature = options.Temperature ?? generation.Temperature,
                TopP = options.TopP ?? generation.TopP,
                TopK = options.TopK ?? generation.TopK,
                Seed = options.Seed is long seed ? unchecked((ulong)seed) : generation.Seed,
                Stop = options.StopSequences is { Count: > 0 } stops ? [.. stops] : generation.Stop,
            };
        }
        string? mode = options?.AdditionalProperties?.TryGetValue(ModeProperty, out var value) == true ? value?.ToString() : null;
        var retriever = mode switch
        {
            null or "retrieval" => _retriever,
            "closed-book" => NullRetriever.Instance,
            _ => throw new ArgumentException($"Unknown {ModeProperty} '{mode}'; use \"retrieval\" or \"closed-book\".", nameof(options)),
        };
        return (new GenerationRequest(prompt.ToString(), generation, _retrieval, question), retriever);
    }

    private static ChatFinishReason FinishReason(string reason) => reason switch
    {
        "length" => ChatFinishReason.Length,
        _ => ChatFinishReason.Stop,
    };
}
