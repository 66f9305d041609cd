using Retro.Core;
using Retro.Tokenizers;

namespace Retro.Engine.Bert;

/// <summary>
/// <see cref="IReranker"/> over a BERT cross-encoder folder (<c>BertForSequenceClassification</c>): each pair is
/// <c>[CLS] query [SEP] candidate [SEP]</c> (type ids 0 then 1, longest-first truncation), scored by
/// classifier(tanh(pooler(h[CLS]))) as a raw logit. Thread-safe.
/// </summary>
public sealed class BertReranker : IReranker, IDisposable
{
    private readonly BertEncoder _encoder;
    private readonly Tokenizer _tokenizer;
    private readonly BertBatchRunner _runner;

    /// <summary>Wraps a loaded cross-encoder (owned: disposed with this) and its tokenizer.</summary>
    public BertReranker(BertEncoder encoder, Tokenizer tokenizer, string modelId, int maxBatch = 32, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        if (!encoder.Config.IsCrossEncoder)
            throw new ArgumentException("the model has no classifier head (architectures must be BertForSequenceClassification)", nameof(encoder));
        Checkpoints.TokenizerFit.Check(tokenizer.VocabularySize, encoder.Config.VocabSize, encoder.Folder?.Path);
        int length = maxLength ?? encoder.Config.MaxPositions;
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 5, nameof(maxLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, encoder.Config.MaxPositions, nameof(maxLength));
        _encoder = encoder;
        _tokenizer = tokenizer;
        ModelId = modelId;
        MaxLength = length;
        _runner = new BertBatchRunner(encoder, maxBatch, length, tokenizer.PadId ?? encoder.Config.PadTokenId);
    }

    /// <summary>Loads a cross-encoder folder (config.json, model.safetensors, tokenizer.json) onto <paramref name="backend"/>.</summary>
    public static BertReranker Load(string folder, IBackend backend, int maxBatch = 32, int? maxLength = null)
    {
        var encoder = BertEncoder.Load(folder, backend);
        try
        {
            var model = encoder.Folder!;
            return new BertReranker(encoder, model.Tokenizer, model.ComputeModelId(), maxBatch, maxLength);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string ModelId { get; }

    /// <summary>Tokens per pair at most, special tokens included.</summary>
    public int MaxLength { get; }

    /// <inheritdoc />
    public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
    {
        var inputs = BertInputs.Pairs(_tokenizer, query, candidates, MaxLength, scores.Length);
        var result = new float[candidates.Length];
        _runner.Run(inputs, (lease, members, length) =>
        {
            _encoder.Score(lease.State, members.Length, length, lease.Output);
            for (int j = 0; j < members.Length; j++) result[members[j]] = lease.Output[j];
        });
        result.CopyTo(scores);
    }

    /// <summary>Frees run states and unmaps the model.</summary>
    public void Dispose()
    {
        _runner.Dispose();
        _encoder.Dispose();
    }
}
