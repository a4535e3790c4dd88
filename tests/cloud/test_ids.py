from datetime import UTC, datetime

from roost.cloud.ids import new_id, ulid_text


def test_ids_in_one_millisecond_increase_even_when_other_clocks_interleave():
    frozen = datetime(2026, 1, 5, 9, tzinfo=UTC)
    ours = []
    for _ in range(500):
        ours.append(new_id(frozen))
        new_id()  # the system clock's ids come in between (request ids, mail ids)
    assert ours == sorted(ours) and len(set(ours)) == 500


def test_ids_carry_the_time_they_are_stamped_with():
    early, late = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
    assert new_id(late) > new_id(early)
    assert new_id(early)[:10] == new_id(early)[:10]


def test_ids_are_ulid_text_of_their_millisecond_and_80_random_bits():
    assert ulid_text(0) == "0" * 26
    assert ulid_text(2**128 - 1) == "7" + "Z" * 25
    assert ulid_text(1 << 80) == "0" * 9 + "1" + "0" * 16  # one millisecond: the 10th digit
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    made = new_id(at)
    digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for ch in made:
        value = value * 32 + digits.index(ch)
    assert len(made) == 26 and value >> 80 == int(at.timestamp() * 1000)
