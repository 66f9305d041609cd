using Microsoft.Extensions.AI;
using Retro.Core;

namespace Retro.Engine.Generation;

/// <summary><see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a bi-encoder (<see cref="ITextEncoder"/>). Thread-safe.</summary>
public sealed class TextEncoderEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly ITextEncoder _encoder;

    /// <summary>Wraps <paramref name="encoder"/> (not disposed by this adapter).</summary>
    public TextEncoderEmbeddingGenerator(ITextEncoder encoder) => _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));

    /// <summary>Embeds every value in one batch; the embeddings come in input order, each of length Dimension.</summary>
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        cancellationToken.ThrowIfCancellationRequested();
        string[] texts = [.. values];
        int d = _encoder.Dimension;
        var all = new float[texts.Length * d];
        if (texts.Length > 0) _encoder.Encode(texts, all);
        var result = new GeneratedEmbeddings<Embedding<float>>(texts.Length);
        for (int i = 0; i < texts.Length; i++)
            result.Add(new Embedding<float>(all.AsMemory(i * d, d)) { ModelId = _encoder.ModelId, CreatedAt = DateTimeOffset.UtcNow });
        return Task.FromResult(result);
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return new EmbeddingGeneratorMetadata("retro", null, _encoder.ModelId, _encoder.Dimension);
        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(_encoder) ? _encoder : null;
    }

    /// <summary>Nothing to release: the encoder is owned by its creator.</summary>
    public void Dispose() { }
}
