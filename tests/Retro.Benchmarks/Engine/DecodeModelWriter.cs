using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Retro.Engine.Retro;

namespace Retro.Benchmarks.Engine;

/// <summary>
/// Writes a random-weight RETRO model folder (config.json + model.safetensors, F32 or BF16) and small safetensors
/// files of I32/F32 arrays, for the decode benchmark and its PyTorch peer. Deterministic given the seed.
/// </summary>
internal static class DecodeModelWriter
{
    /// <summary>config.json text for <paramref name="c"/> (docs/model-format.md keys).</summary>
    public static string ConfigJson(RetroConfig c) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model_type"] = "retro", ["format_version"] = 1,
        ["vocab_size"] = c.VocabSize, ["d_model"] = c.DModel, ["n_layers"] = c.NLayers, ["n_heads"] = c.NHeads,
        ["d_ff"] = c.DFf, ["max_seq_len"] = c.MaxSeqLen, ["chunk_size"] = c.ChunkSize, ["neighbour_len"] = c.NeighbourLen,
        ["num_neighbours"] = c.NumNeighbours, ["cca_layers"] = c.CcaLayers, ["encoder_layers"] = c.EncoderLayers,
        ["encoder_n_heads"] = c.EncoderNHeads, ["encoder_d_ff"] = c.EncoderDFf, ["rope_theta"] = c.RopeTheta,
        ["layer_norm_eps"] = c.LayerNormEps, ["tie_embeddings"] = c.TieEmbeddings,
        ["bos_token_id"] = c.BosTokenId, ["eos_token_id"] = c.EosTokenId, ["pad_token_id"] = c.PadTokenId,
    }, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The tensors of <paramref name="c"/> in file order: name, shape, values (N(0, 0.02) weights, LayerNorm 1 ± 0.1 / ±0.02).</summary>
    public static List<(string Name, int[] Shape, float[] Values)> RandomWeights(RetroConfig c, int seed)
    {
        var rng = new Random(seed);
        int d = c.DModel;
        var list = new List<(string, int[], float[])>();
        void Matrix(string name, int rows, int cols, float std) => list.Add((name, [rows, cols], Normal(rng, rows * cols, 0f, std)));
        void Norm(string name)
        {
            list.Add((name + ".weight", [d], Normal(rng, d, 1f, 0.1f)));
            list.Add((name + ".bias", [d], Normal(rng, d, 0f, 0.02f)));
        }
        void Attn(string prefix)
        {
            foreach (var p in new[] { "q_proj", "k_proj", "v_proj", "o_proj" }) Matrix($"{prefix}.{p}.weight", d, d, 0.02f);
        }

        Matrix("tok_embeddings.weight", c.VocabSize, d, 0.5f);
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = $"layers.{i}.";
            Norm(p + "attn_norm");
            Attn(p + "attn");
            if (c.IsCcaLayer(i)) { Norm(p + "cca_norm"); Attn(p + "cca"); }
            Norm(p + "mlp_norm");
            Matrix(p + "mlp.fc_in.weight", c.DFf, d, 0.02f);
            Matrix(p + "mlp.fc_out.weight", d, c.DFf, 0.02f);
        }
        Norm("norm_f");
        for (int j = 0; j < c.EncoderLayers; j++)
        {
            string p = $"encoder.layers.{j}.";
            Norm(p + "attn_norm");
            Attn(p + "attn");
            Norm(p + "cross_norm");
            Attn(p + "cross");
            Norm(p + "mlp_norm");
            Matrix(p + "mlp.fc_in.weight", c.EncoderDFf, d, 0.02f);
            Matrix(p + "mlp.fc_out.weight", d, c.EncoderDFf, 0.02f);
        }
        Norm("encoder.norm_f");
        return list;
    }

    /// <summary>Writes <paramref name="folder"/>/config.json and model.safetensors with the weights stored as <paramref name="dtype"/> (F32 or BF16).</summary>
    public static void WriteFolder(string folder, RetroConfig c, List<(string Name, int[] Shape, float[] Values)> weights, string dtype)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(c));
        WriteSafetensors(Path.Combine(folder, "model.safetensors"), weights.ConvertAll(w => (w.Name, dtype, w.Shape, (Array)w.Values)));
    }

    /// <summary>
    /// Writes a safetensors file: 8-byte header length, JSON header padded to 8 bytes, data. Arrays are float[]
    /// (dtype F32 or BF16, rounded to nearest even) or int[] (I32).
    /// </summary>
    public static void WriteSafetensors(string path, IReadOnlyList<(string Name, string DType, int[] Shape, Array Data)> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, dtype, shape, data) in tensors)
        {
            long bytes = (long)data.Length * (dtype == "BF16" ? 2 : 4);
            header[name] = new Dictionary<string, object> { ["dtype"] = dtype, ["shape"] = shape, ["data_offsets"] = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        header["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" };
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, padded);
        f.Write(len);
        f.Write(json);
        for (int i = json.Length; i < padded; i++) f.WriteByte((byte)' ');
        foreach (var (_, dtype, _, data) in tensors)
        {
            switch (data)
            {
                case float[] v when dtype == "BF16":
                    var half = new byte[v.Length * 2];
                    for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(half.AsSpan(2 * i), ToBf16(v[i]));
                    f.Write(half);
                    break;
                case float[] v when dtype == "F32":
                    f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
                    break;
                case int[] v when dtype == "I32":
                    f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
                    break;
                default:
                    throw new ArgumentException($"cannot write {data.GetType().Name} as {dtype}");
            }
        }
    }

    /// <summary>float → bfloat16 bits, round to nearest even (as torch's .to(torch.bfloat16)).</summary>
    public static ushort ToBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x40);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }

    private static float[] Normal(Random rng, int n, float mean, float std)
    {
        var v = new float[n];
        for (int i = 0; i < n; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            v[i] = mean + std * (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < n) v[i + 1] = mean + std * (float)(r * Math.Sin(2 * Math.PI * u2));
        }
        return v;
    }
}
