"""Texts shared by the detector tests of both tiers, written for these tests."""

DISCLOSURE = "I was diagnosed with depression last year and I'm terrified"
SMALL_TALK = "The bus was late again."

#: Tiny labelled fixture for fitting: (text, info, emo).
FIXTURE = [
    ("I'm a nurse and I live in Leeds.", 1, 0),
    ("My husband and I have two kids.", 1, 0),
    ("I was diagnosed with anxiety when I was 19.", 1, 1),
    ("I'm so scared and lonely since my mum died.", 1, 1),
    ("I feel so happy today, I could cry.", 0, 1),
    ("I love this so much, it made my day!", 0, 1),
    ("It's a book by Hemingway.", 0, 0),
    ("Have you tried family therapy?", 0, 0),
    ("The bus was late again.", 0, 0),
    ("What time does the shop open?", 0, 0),
    ("I work as a teacher in a small town.", 1, 0),
    ("I hate myself for what I did to my brother.", 1, 1),
] * 3
