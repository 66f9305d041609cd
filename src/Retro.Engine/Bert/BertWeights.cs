using Retro.Engine.Checkpoints;

namespace Retro.Engine.Bert;

/// <summary>
/// BERT weights as views on a backend over the mapped checkpoint (F32, F16 or BF16 as stored; Linear weights are
/// (out, in)). Loading is a name map with Hugging Face's names; a <c>bert.</c> prefix is stripped and
/// <c>embeddings.position_ids</c> ignored; a missing, unknown or misshapen tensor fails naming it.
/// </summary>
public sealed class BertWeights : IDisposable
{
    private readonly List<IDisposable> _prepared = [];

    /// <summary>One encoder layer.</summary>
    public sealed class Layer
    {
        /// <summary>(H, H) / (1, H): attention.self.query.</summary>
        public Tensor Query, QueryBias;
        /// <summary>(H, H) / (1, H): attention.self.key.</summary>
        public Tensor Key, KeyBias;
        /// <summary>(H, H) / (1, H): attention.self.value.</summary>
        public Tensor Value, ValueBias;
        /// <summary>(H, H) / (1, H): attention.output.dense.</summary>
        public Tensor AttentionOutput, AttentionOutputBias;
        /// <summary>(1, H) each: attention.output.LayerNorm.</summary>
        public Tensor AttentionNormWeight, AttentionNormBias;
        /// <summary>(I, H) / (1, I): intermediate.dense.</summary>
        public Tensor Intermediate, IntermediateBias;
        /// <summary>(H, I) / (1, H): output.dense.</summary>
        public Tensor Output, OutputBias;
        /// <summary>(1, H) each: output.LayerNorm.</summary>
        public Tensor OutputNormWeight, OutputNormBias;
    }

    /// <summary>(V, H): embeddings.word_embeddings.</summary>
    public Tensor WordEmbeddings { get; private set; }
    /// <summary>(P, H): embeddings.position_embeddings.</summary>
    public Tensor PositionEmbeddings { get; private set; }
    /// <summary>(T, H): embeddings.token_type_embeddings.</summary>
    public Tensor TokenTypeEmbeddings { get; private set; }
    /// <summary>(1, H) each: embeddings.LayerNorm.</summary>
    public Tensor EmbeddingNormWeight { get; private set; }
    /// <summary>(1, H): embeddings.LayerNorm.bias.</summary>
    public Tensor EmbeddingNormBias { get; private set; }
    /// <summary>Per layer.</summary>
    public IReadOnlyList<Layer> Layers { get; }
    /// <summary>(H, H) / (1, H): pooler.dense; empty when absent (bi-encoders may omit it).</summary>
    public Tensor Pooler { get; private set; }
    /// <summary>(1, H): pooler.dense.bias.</summary>
    public Tensor PoolerBias { get; private set; }
    /// <summary>(1, H) / (1, 1): classifier, cross-encoder only.</summary>
    public Tensor Classifier { get; private set; }
    /// <summary>(1, 1): classifier.bias.</summary>
    public Tensor ClassifierBias { get; private set; }

    private BertWeights(int layers)
    {
        var list = new Layer[layers];
        for (int i = 0; i < layers; i++) list[i] = new Layer();
        Layers = list;
    }

    /// <summary>Maps every tensor of <paramref name="file"/> onto <paramref name="backend"/>, checking names and shapes against <paramref name="config"/>.</summary>
    public static BertWeights Load(SafetensorsFile file, BertConfig config, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(backend);
        int h = config.HiddenSize, inter = config.IntermediateSize;
        var w = new BertWeights(config.Layers);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            string name = t.Name.StartsWith("bert.", StringComparison.Ordinal) ? t.Name["bert.".Length..] : t.Name;
            if (name == "embeddings.position_ids") continue; // a buffer, not a weight
            if (!seen.Add(name)) throw new CheckpointFormatException(file.Path, t.Name, "appears both with and without the 'bert.' prefix");
            Tensor Map(params int[] shape)
            {
                if (!t.HasShape(shape))
                    throw new CheckpointFormatException(file.Path, t.Name, $"shape {t.ShapeText}, expected ({string.Join(", ", shape)}) for this config.json");
                if (!DTypes.IsFloat(t.Type))
                    throw new CheckpointFormatException(file.Path, t.Name, $"dtype {t.Type}, expected F32, F16 or BF16");
                var view = backend.Weights(t);
                return shape.Length == 1 ? view.Reshape(1, shape[0]) : view;
            }

            switch (name)
            {
                case "embeddings.word_embeddings.weight": w.WordEmbeddings = Map(config.VocabSize, h); continue;
                case "embeddings.position_embeddings.weight": w.PositionEmbeddings = Map(config.MaxPositions, h); continue;
                case "embeddings.token_type_embeddings.weight": w.TokenTypeEmbeddings = Map(config.TypeVocabSize, h); continue;
                case "embeddings.LayerNorm.weight": w.EmbeddingNormWeight = Map(h); continue;
                case "embeddings.LayerNorm.bias": w.EmbeddingNormBias = Map(h); continue;
                case "pooler.dense.weight": w.Pooler = Map(h, h); continue;
                case "pooler.dense.bias": w.PoolerBias = Map(h); continue;
                case "classifier.weight" when config.IsCrossEncoder: w.Classifier = Map(1, h); continue;
                case "classifier.bias" when config.IsCrossEncoder: w.ClassifierBias = Map(1); continue;
            }

            const string prefix = "encoder.layer.";
            int dot = name.StartsWith(prefix, StringComparison.Ordinal) ? name.IndexOf('.', prefix.Length) : -1;
            if (dot < 0 || !int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), out int index) || index < 0 || index >= config.Layers
                || name[prefix.Length] is '+' or '-' || (name[prefix.Length] == '0' && dot - prefix.Length > 1))
                throw new CheckpointFormatException(file.Path, t.Name, "unknown tensor for a BERT model with this config.json");
            var l = w.Layers[index];
            switch (name[(dot + 1)..])
            {
                case "attention.self.query.weight": l.Query = Map(h, h); break;
                case "attention.self.query.bias": l.QueryBias = Map(h); break;
                case "attention.self.key.weight": l.Key = Map(h, h); break;
                case "attention.self.key.bias": l.KeyBias = Map(h); break;
                case "attention.self.value.weight": l.Value = Map(h, h); break;
                case "attention.self.value.bias": l.ValueBias = Map(h); break;
                case "attention.output.dense.weight": l.AttentionOutput = Map(h, h); break;
                case "attention.output.dense.bias": l.AttentionOutputBias = Map(h); break;
                case "attention.output.LayerNorm.weight": l.AttentionNormWeight = Map(h); break;
                case "attention.output.LayerNorm.bias": l.AttentionNormBias = Map(h); break;
                case "intermediate.dense.weight": l.Intermediate = Map(inter, h); break;
                case "intermediate.dense.bias": l.IntermediateBias = Map(inter); break;
                case "output.dense.weight": l.Output = Map(h, inter); break;
                case "output.dense.bias": l.OutputBias = Map(h); break;
                case "output.LayerNorm.weight": l.OutputNormWeight = Map(h); break;
                case "output.LayerNorm.bias": l.OutputNormBias = Map(h); break;
                default: throw new CheckpointFormatException(file.Path, t.Name, "unknown tensor for a BERT model with this config.json");
            }
        }
        w.CheckComplete(file, config);
        w.PrepareMatrices(backend);
        return w;
    }

    /// <summary>Declares every matrix the encoder multiplies by (<see cref="IBackend.PrepareWeight"/>); <see cref="Dispose"/> releases them.</summary>
    private void PrepareMatrices(IBackend backend)
    {
        void Prepare(Tensor t)
        {
            if (!t.IsEmpty) _prepared.Add(backend.PrepareWeight(t));
        }
        foreach (var l in Layers)
        {
            Prepare(l.Query); Prepare(l.Key); Prepare(l.Value); Prepare(l.AttentionOutput);
            Prepare(l.Intermediate); Prepare(l.Output);
        }
        Prepare(Pooler);
        Prepare(Classifier);
    }

    /// <summary>Releases what the backend keeps for the prepared matrices; the views stay valid (the checkpoint owns them).</summary>
    public void Dispose()
    {
        foreach (var p in _prepared) p.Dispose();
        _prepared.Clear();
    }

    private void CheckComplete(SafetensorsFile file, BertConfig config)
    {
        void Need(Tensor t, string name)
        {
            if (t.IsEmpty) throw new CheckpointFormatException(file.Path, name, "missing");
        }
        Need(WordEmbeddings, "embeddings.word_embeddings.weight");
        Need(PositionEmbeddings, "embeddings.position_embeddings.weight");
        Need(TokenTypeEmbeddings, "embeddings.token_type_embeddings.weight");
        Need(EmbeddingNormWeight, "embeddings.LayerNorm.weight");
        Need(EmbeddingNormBias, "embeddings.LayerNorm.bias");
        for (int i = 0; i < Layers.Count; i++)
        {
            var l = Layers[i];
            string p = $"encoder.layer.{i}.";
            Need(l.Query, p + "attention.self.query.weight"); Need(l.QueryBias, p + "attention.self.query.bias");
            Need(l.Key, p + "attention.self.key.weight"); Need(l.KeyBias, p + "attention.self.key.bias");
            Need(l.Value, p + "attention.self.value.weight"); Need(l.ValueBias, p + "attention.self.value.bias");
            Need(l.AttentionOutput, p + "attention.output.dense.weight"); Need(l.AttentionOutputBias, p + "attention.output.dense.bias");
            Need(l.AttentionNormWeight, p + "attention.output.LayerNorm.weight"); Need(l.AttentionNormBias, p + "attention.output.LayerNorm.bias");
            Need(l.Intermediate, p + "intermediate.dense.weight"); Need(l.IntermediateBias, p + "intermediate.dense.bias");
            Need(l.Output, p + "output.dense.weight"); Need(l.OutputBias, p + "output.dense.bias");
            Need(l.OutputNormWeight, p + "output.LayerNorm.weight"); Need(l.OutputNormBias, p + "output.LayerNorm.bias");
        }
        if (Pooler.IsEmpty != PoolerBias.IsEmpty)
            throw new CheckpointFormatException(file.Path, Pooler.IsEmpty ? "pooler.dense.weight" : "pooler.dense.bias", "missing");
        if (config.IsCrossEncoder)
        {
            Need(Pooler, "pooler.dense.weight");
            Need(Classifier, "classifier.weight");
            Need(ClassifierBias, "classifier.bias");
        }
    }
}
