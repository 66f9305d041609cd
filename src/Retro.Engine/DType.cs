namespace Retro.Engine;

/// <summary>Element types of tensors in checkpoints and backend buffers. Values are persisted nowhere; names are.</summary>
public enum DType
{
    /// <summary>IEEE 754 binary32 (safetensors <c>F32</c>).</summary>
    F32 = 0,

    /// <summary>IEEE 754 binary16 (safetensors <c>F16</c>).</summary>
    F16 = 1,

    /// <summary>bfloat16: the top 16 bits of a binary32 (safetensors <c>BF16</c>).</summary>
    BF16 = 2,

    /// <summary>Signed 32-bit integer (safetensors <c>I32</c>).</summary>
    I32 = 3,

    /// <summary>Signed 64-bit integer (safetensors <c>I64</c>).</summary>
    I64 = 4,
}

/// <summary>Sizes and safetensors names of <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int SizeOf(DType type) => type switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown dtype"),
    };

    /// <summary>The safetensors header name of <paramref name="type"/> (<c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>I32</c>, <c>I64</c>).</summary>
    public static string SafetensorsName(DType type) => type switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.I32 => "I32",
        DType.I64 => "I64",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown dtype"),
    };

    /// <summary>Parses a safetensors dtype name; false for names this engine does not read.</summary>
    public static bool TryParseSafetensorsName(string name, out DType type)
    {
        switch (name)
        {
            case "F32": type = DType.F32; return true;
            case "F16": type = DType.F16; return true;
            case "BF16": type = DType.BF16; return true;
            case "I32": type = DType.I32; return true;
            case "I64": type = DType.I64; return true;
            default: type = default; return false;
        }
    }

    /// <summary>True for the floating-point types a weight may have (F32, F16, BF16).</summary>
    public static bool IsFloat(DType type) => type is DType.F32 or DType.F16 or DType.BF16;
}
