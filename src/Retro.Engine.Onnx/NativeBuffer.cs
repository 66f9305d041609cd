using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Retro.Engine.Onnx;

/// <summary>
/// Zeroed, 64-byte aligned native memory of <typeparamref name="T"/> (float or long) that ONNX Runtime reads and
/// writes in place: <see cref="View"/> wraps a range as an <see cref="OrtValue"/> without copying (KV caches, CCA
/// caches, bound outputs). Not thread-safe; dispose once.
/// </summary>
internal sealed unsafe class NativeBuffer<T> : IDisposable where T : unmanaged
{
    private static readonly TensorElementType ElementType =
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(T) == typeof(long) ? TensorElementType.Int64
        : throw new NotSupportedException($"NativeBuffer<{typeof(T).Name}>");

    private T* _data;

    public NativeBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        nuint bytes = (nuint)Math.Max(1, length * sizeof(T));
        _data = (T*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_data, bytes);
    }

    /// <summary>Elements held.</summary>
    public long Length { get; }

    /// <summary><paramref name="count"/> elements from <paramref name="offset"/>.</summary>
    public Span<T> Span(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset + count > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        return new Span<T>(_data + offset, count);
    }

    /// <summary>An OrtValue of <paramref name="shape"/> over the elements from <paramref name="offset"/> (no copy; valid while this buffer lives).</summary>
    public OrtValue View(long offset, params long[] shape)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        if (offset < 0 || offset + count > Length) throw new ArgumentOutOfRangeException(nameof(shape), $"a view of {count} elements at {offset} exceeds {Length}");
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, ElementType, shape, (IntPtr)(_data + offset), count * sizeof(T));
    }

    public void Dispose()
    {
        if (_data is null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
