using Retro.Engine;

namespace Retro.Engine.Tests.Support;

/// <summary>Backend buffers filled from host arrays, freed together.</summary>
internal sealed class HostTensors(IBackend backend) : IDisposable
{
    private readonly List<BackendBuffer> _buffers = [];

    public IBackend Backend { get; } = backend;

    public Tensor F32(float[] values, int rows, int columns)
    {
        var t = Empty(DType.F32, rows, columns);
        Backend.Upload<float>(values, t);
        return t;
    }

    public Tensor I32(int[] values, int rows, int columns)
    {
        var t = Empty(DType.I32, rows, columns);
        Backend.Upload<int>(values, t);
        return t;
    }

    /// <summary>Weights as <paramref name="type"/> (F32, BF16 or F16) rounded from <paramref name="values"/>; also returns the rounded values.</summary>
    public Tensor Weights(float[] values, int rows, int columns, DType type, out float[] rounded)
    {
        var t = Empty(type, rows, columns);
        rounded = new float[values.Length];
        switch (type)
        {
            case DType.F32:
                values.CopyTo(rounded, 0);
                Backend.Upload<float>(values, t);
                break;
            case DType.BF16:
            {
                var bits = new ushort[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    bits[i] = Numerics.ToBFloat16(values[i]);
                    rounded[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
                }
                Backend.Upload<ushort>(bits, t);
                break;
            }
            case DType.F16:
            {
                var halves = new Half[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    halves[i] = (Half)values[i];
                    rounded[i] = (float)halves[i];
                }
                Backend.Upload<Half>(halves, t);
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(type));
        }
        return t;
    }

    public Tensor Empty(DType type, int rows, int columns)
    {
        var buffer = Backend.Allocate((long)rows * columns * DTypes.SizeOf(type));
        _buffers.Add(buffer);
        return buffer.AsTensor(type, rows, columns);
    }

    public float[] Read(Tensor t)
    {
        var result = new float[t.ElementCount];
        Backend.Download<float>(t, result);
        return result;
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
    }
}
