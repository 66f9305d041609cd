using System.Globalization;
using System.Text;
using System.Text.Json;
using Retro.Engine;

namespace Retro.Benchmarks.Engine;

/// <summary>Writes a random-weight BERT bi-encoder folder (config.json + model.safetensors) and benchmark inputs.</summary>
internal static class EmbedModelWriter
{
    public const int Vocab = 30522; // bert-base-uncased's vocabulary: a realistic embedding table

    public static void Write(string folder, int layers, int hidden, int heads, int ffn, int positions, DType type, int seed)
    {
        Directory.CreateDirectory(folder);
        var config = new Dictionary<string, object>
        {
            ["model_type"] = "bert", ["architectures"] = new[] { "BertModel" }, ["format_version"] = 1,
            ["vocab_size"] = Vocab, ["hidden_size"] = hidden, ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads,
            ["intermediate_size"] = ffn, ["max_position_embeddings"] = Math.Max(positions, 512), ["type_vocab_size"] = 2,
            ["layer_norm_eps"] = 1e-12, ["hidden_act"] = "gelu", ["pad_token_id"] = 0,
            ["retro_pooling"] = "mean", ["retro_normalize"] = true,
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config));

        var rng = new Random(seed);
        var tensors = new List<(string Name, int[] Shape, float[] Values)>();
        void Add(string name, float scale, float offset, params int[] shape)
        {
            int n = 1;
            foreach (int d in shape) n *= d;
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = offset + scale * (float)(rng.NextDouble() * 2 - 1);
            tensors.Add((name, shape, v));
        }
        float w = 0.04f; // uniform ±0.04: std ≈ 0.023, BERT's init is N(0, 0.02)
        Add("embeddings.word_embeddings.weight", w, 0, Vocab, hidden);
        Add("embeddings.position_embeddings.weight", w, 0, Math.Max(positions, 512), hidden);
        Add("embeddings.token_type_embeddings.weight", w, 0, 2, hidden);
        Add("embeddings.LayerNorm.weight", 0.1f, 1, hidden);
        Add("embeddings.LayerNorm.bias", 0.1f, 0, hidden);
        for (int l = 0; l < layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            foreach (string proj in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                Add(p + proj + ".weight", w, 0, hidden, hidden);
                Add(p + proj + ".bias", w, 0, hidden);
            }
            Add(p + "attention.output.LayerNorm.weight", 0.1f, 1, hidden);
            Add(p + "attention.output.LayerNorm.bias", 0.1f, 0, hidden);
            Add(p + "intermediate.dense.weight", w, 0, ffn, hidden);
            Add(p + "intermediate.dense.bias", w, 0, ffn);
            Add(p + "output.dense.weight", w, 0, hidden, ffn);
            Add(p + "output.dense.bias", w, 0, hidden);
            Add(p + "output.LayerNorm.weight", 0.1f, 1, hidden);
            Add(p + "output.LayerNorm.bias", 0.1f, 0, hidden);
        }
        WriteSafetensors(Path.Combine(folder, "model.safetensors"), tensors, type);
    }

    public static (int[] Ids, int[] Mask, int[] Types) Inputs(int batch, int length, int vocab, int seed)
    {
        var rng = new Random(seed);
        int n = batch * length;
        var ids = new int[n];
        for (int b = 0; b < batch; b++)
        {
            ids[b * length] = 101;                                                  // [CLS]
            for (int t = 1; t < length - 1; t++) ids[b * length + t] = rng.Next(1000, vocab);
            ids[b * length + length - 1] = 102;                                     // [SEP]
        }
        var mask = Enumerable.Repeat(1, n).ToArray();
        return (ids, mask, new int[n]);
    }

    public static void WriteInputs(string path, int batch, int length, int[] ids, int[] mask, int[] types)
    {
        var tensors = new List<(string, int[], byte[])>
        {
            ("input_ids", [batch, length], ToBytes(ids)),
            ("attention_mask", [batch, length], ToBytes(mask)),
            ("token_type_ids", [batch, length], ToBytes(types)),
        };
        WriteRaw(path, tensors, "I32");
    }

    private static void WriteSafetensors(string path, List<(string Name, int[] Shape, float[] Values)> tensors, DType type)
    {
        var raw = new List<(string, int[], byte[])>();
        foreach (var (name, shape, values) in tensors)
        {
            byte[] bytes;
            if (type == DType.F32)
            {
                bytes = new byte[values.Length * 4];
                Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            }
            else
            {
                bytes = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits(values[i]);
                    ushort bf = (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16); // round to nearest even
                    bytes[2 * i] = (byte)bf;
                    bytes[2 * i + 1] = (byte)(bf >> 8);
                }
            }
            raw.Add((name, shape, bytes));
        }
        WriteRaw(path, raw, DTypes.SafetensorsName(type));
    }

    private static byte[] ToBytes(int[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    private static void WriteRaw(string path, List<(string Name, int[] Shape, byte[] Data)> tensors, string dtype)
    {
        var header = new StringBuilder("{");
        long offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            if (header.Length > 1) header.Append(',');
            header.Append(CultureInfo.InvariantCulture,
                $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(',', shape)}],\"data_offsets\":[{offset},{offset + data.Length}]}}");
            offset += data.Length;
        }
        header.Append('}');
        while ((header.Length + 8) % 8 != 0) header.Append(' '); // align the data to 8 bytes
        var headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((long)headerBytes.Length));
        stream.Write(headerBytes);
        foreach (var t in tensors) stream.Write(t.Data);
    }
}
