using System.Buffers.Binary;
using Geo.Radius;

namespace Geo.RegionNode.Transport;

/// <summary>
/// RFC 5080 duplicate detection: a retransmission within the window gets the cached answer, one still in progress is dropped.
/// GC-free (per-entry objects all survived into older generations: 15–20 MB and 100 ms per collection at 5,000/s): a struct
/// ring with hash chains and reused byte chunks. Entries overwritten early (<see cref="EvictedEarly"/>) are just handled again.
/// </summary>
internal sealed class DuplicateCache
{
    private const int ChunkSize = 1 << 20;
    private const byte Free = 0;
    private const byte InProgressState = 1;
    private const byte AnsweredState = 2;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly long _window;
    private readonly Slot[] _slots;
    private readonly int[] _buckets;
    private readonly byte[]?[] _chunks;
    private int _oldest;
    private int _used;
    private int _live;
    private long _written;
    private long _evictedEarly;

    /// <param name="window">How long an answer is kept.</param>
    /// <param name="time">The clock.</param>
    /// <param name="capacity">Most requests remembered (the window at the peak rate).</param>
    /// <param name="answerBytes">Room for cached answers, allocated in 1 MiB chunks as it fills.</param>
    public DuplicateCache(TimeSpan window, TimeProvider time, int capacity = 262_144, int answerBytes = 64 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(answerBytes, ChunkSize);
        _time = time;
        _window = (long)(window.TotalSeconds * time.TimestampFrequency);
        _slots = new Slot[capacity];
        _buckets = new int[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2)];
        _chunks = new byte[]?[answerBytes / ChunkSize];
    }

    /// <summary>Requests remembered (in progress or answered).</summary>
    public int Count => Volatile.Read(ref _live);

    /// <summary>Entries forgotten before their window passed because the cache was full.</summary>
    public long EvictedEarly => Interlocked.Read(ref _evictedEarly);

    /// <summary>
    /// Registers a request; says whether it is new, in progress, or answered. When answered, the cached answer
    /// is copied into <paramref name="answer"/> (at least 4096 bytes) and its length returned in <paramref name="length"/>.
    /// </summary>
    public DuplicateState Begin(in RadiusRequestKey key, Span<byte> answer, out int length)
    {
        length = 0;
        var probe = Probe.Of(key);
        lock (_gate)
        {
            var index = Find(probe);
            if (index >= 0)
            {
                ref var slot = ref _slots[index];
                if (slot.State == InProgressState)
                {
                    return DuplicateState.InProgress;
                }

                if (TryReadAnswer(ref slot, answer, out length))
                {
                    return DuplicateState.Answered;
                }

                // The answer's bytes were reused: forget the entry and handle the retransmission again.
                Remove(index);
            }

            if (_used == _slots.Length)
            {
                if (_slots[_oldest].State != Free)
                {
                    _evictedEarly++;
                    Remove(_oldest);
                }

                _oldest = Next(_oldest);
                _used--;
            }

            var at = (_oldest + _used) % _slots.Length;
            ref var fresh = ref _slots[at];
            fresh = new Slot
            {
                Probe = probe,
                Expires = _time.GetTimestamp() + _window,
                State = InProgressState,
                NextInChain = _buckets[probe.Hash & (_buckets.Length - 1)],
            };
            _buckets[probe.Hash & (_buckets.Length - 1)] = at + 1;
            _used++;
            _live++;
            return DuplicateState.New;
        }
    }

    /// <summary>Stores the answer sent for a request.</summary>
    public void Complete(in RadiusRequestKey key, ReadOnlySpan<byte> response)
    {
        var probe = Probe.Of(key);
        lock (_gate)
        {
            var index = Find(probe);
            if (index < 0 || response.Length > ChunkSize)
            {
                return;
            }

            var start = _written;
            if (ChunkSize - (start % ChunkSize) < response.Length)
            {
                // An answer never straddles two chunks: start the next one.
                start += ChunkSize - (start % ChunkSize);
            }

            var chunk = (int)(start / ChunkSize % _chunks.Length);
            var bytes = _chunks[chunk] ??= GC.AllocateUninitializedArray<byte>(ChunkSize);
            response.CopyTo(bytes.AsSpan((int)(start % ChunkSize)));
            _written = start + response.Length;
            ref var slot = ref _slots[index];
            slot.AnswerAt = start;
            slot.AnswerLength = response.Length;
            slot.State = AnsweredState;
        }
    }

    /// <summary>Forgets a request that got no answer, so that its retransmission is handled again.</summary>
    public void Abandon(in RadiusRequestKey key)
    {
        var probe = Probe.Of(key);
        lock (_gate)
        {
            if (Find(probe) is var index and >= 0)
            {
                Remove(index);
            }
        }
    }

    /// <summary>Drops entries whose window has passed.</summary>
    public void Expire()
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            while (_used > 0 && (_slots[_oldest].State == Free || _slots[_oldest].Expires <= now))
            {
                if (_slots[_oldest].State != Free)
                {
                    Remove(_oldest);
                }

                _oldest = Next(_oldest);
                _used--;
            }
        }
    }

    private int Next(int index) => index + 1 == _slots.Length ? 0 : index + 1;

    private int Find(in Probe probe)
    {
        for (var link = _buckets[probe.Hash & (_buckets.Length - 1)]; link != 0; link = _slots[link - 1].NextInChain)
        {
            ref var slot = ref _slots[link - 1];
            if (slot.State != Free && slot.Probe.Equals(probe))
            {
                return link - 1;
            }
        }

        return -1;
    }

    /// <summary>Unlinks a live entry from its chain and frees it; the ring passes over it later.</summary>
    private void Remove(int index)
    {
        ref var slot = ref _slots[index];
        ref var link = ref _buckets[slot.Probe.Hash & (_buckets.Length - 1)];
        while (link != 0)
        {
            if (link - 1 == index)
            {
                link = slot.NextInChain;
                break;
            }

            link = ref _slots[link - 1].NextInChain;
        }

        slot.State = Free;
        slot.NextInChain = 0;
        _live--;
    }

    private bool TryReadAnswer(ref Slot slot, Span<byte> answer, out int length)
    {
        length = slot.AnswerLength;
        // Still there unless the ring of chunks has come round over it since.
        if (_written - slot.AnswerAt > (long)_chunks.Length * ChunkSize - ChunkSize || length > answer.Length)
        {
            length = 0;
            return false;
        }

        _chunks[(int)(slot.AnswerAt / ChunkSize % _chunks.Length)]!.AsSpan((int)(slot.AnswerAt % ChunkSize), length).CopyTo(answer);
        return true;
    }

    /// <summary>A request key without references: the NAS address as 128 bits (IPv4 mapped), so entries hold no objects.</summary>
    private readonly record struct Probe(UInt128 Address, UInt128 Authenticator, int Port, RadiusCode Code, byte Identifier, int Hash)
    {
        public static Probe Of(in RadiusRequestKey key)
        {
            Span<byte> bytes = stackalloc byte[16];
            var address = key.NasAddress.IsIPv4MappedToIPv6 ? key.NasAddress.MapToIPv4() : key.NasAddress;
            UInt128 bits;
            if (address.TryWriteBytes(bytes, out var written) && written == 4)
            {
                bits = ((UInt128)0xFFFF << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes);
            }
            else
            {
                bits = BinaryPrimitives.ReadUInt128BigEndian(bytes);
            }

            return new Probe(bits, key.RequestAuthenticator, key.SourcePort, key.Code, key.Identifier,
                HashCode.Combine(bits, key.RequestAuthenticator, key.SourcePort, key.Code, key.Identifier) & int.MaxValue);
        }
    }

    private struct Slot
    {
        public Probe Probe;
        public long Expires;
        public long AnswerAt;
        public int AnswerLength;
        public int NextInChain;
        public byte State;
    }
}

internal enum DuplicateState
{
    New,
    InProgress,
    Answered,
}
