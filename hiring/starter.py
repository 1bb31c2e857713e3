"""The question bank and the job profile the product starts with, written for hiring
technical sellers. Loaded by services.question_bank_install and by the demo."""

from __future__ import annotations

from typing import NamedTuple


class StarterQuestion(NamedTuple):
    key: str
    text: str
    measures: tuple[str, ...]
    look_for: str
    follow_ups: str


STARTER_QUESTIONS: tuple[StarterQuestion, ...] = (
    StarterQuestion(
        "strength",
        "Which of your strengths would our customers notice first, and how would you put "
        "it to work here?",
        ("interpersonal", "business"),
        "A concrete strength backed by an example, tied to the solutions we sell; signs "
        "that the candidate has studied our offering before the interview.",
        "Which of our products would you be most comfortable presenting tomorrow?",
    ),
    StarterQuestion(
        "best-day",
        "Walk me through a working day you were proud of in a past role.",
        ("interpersonal", "lifestyle", "technical", "business"),
        "Time spent with customers moving a result forward rather than at a desk; the "
        "candidate shaped the day instead of waiting for it to happen.",
        "What made that day unusual? How often did days like it come round?",
    ),
    StarterQuestion(
        "motivation",
        "When did work last give you real satisfaction? What exactly happened?",
        ("interpersonal", "lifestyle", "technical", "business"),
        "Satisfaction that comes from winning new business or from solving a customer's "
        "business problem with technology.",
        "Who else shared the credit, and how did you say so?",
    ),
    StarterQuestion(
        "frustration",
        "Tell me about something in your work that reliably frustrates you, and how you "
        "deal with it.",
        ("interpersonal", "maturity"),
        "An unloved but necessary task, described calmly, with an understanding of why the "
        "business needs it. Watch for a change of tone.",
        "What would you change about it if you could?",
    ),
    StarterQuestion(
        "solution-delivered",
        "Describe a technology solution you helped put in place: why the customer paid for "
        "it, how it fitted together and what you did yourself.",
        ("technical", "business"),
        "The business reason (earn more, spend less, reduce risk) and a clear picture of the "
        "parts; bonus for sketching it on the whiteboard unprompted.",
        "What would you design differently today?",
    ),
    StarterQuestion(
        "do-over",
        "Which professional decision would you take back if you could, and what did you do "
        "to put it right?",
        ("interpersonal", "maturity"),
        "An honest account of the damage and of what the candidate would now do "
        "differently; a work example rather than a personal one.",
        "How did you find out it had gone wrong?",
    ),
    StarterQuestion(
        "how-others-see-you",
        "What do colleagues and customers value in you? What have they actually told you?",
        ("interpersonal", "lifestyle"),
        "Self-awareness and traits that help in front of customers: warmth, courtesy, "
        "curiosity about others, depth of knowledge. Quoted feedback beats adjectives.",
        "And what do they find hardest about working with you?",
    ),
    StarterQuestion(
        "disagreement",
        "Tell me about a time you disagreed with your manager. What did you do?",
        ("interpersonal", "business", "maturity"),
        "A business disagreement handled openly: either the candidate came to accept the "
        "other view and can explain it, or changed the outcome through argument.",
        "How is your relationship with that manager now?",
    ),
    StarterQuestion(
        "career",
        "Suppose this role goes well. Where would you like it to take you?",
        ("lifestyle", "maturity"),
        "Evidence of real thought about the next steps and the reasons for them.",
        "What would you need from us to get there?",
    ),
    StarterQuestion(
        "reading",
        "What are you reading at the moment about business or your industry, and where do "
        "you keep up with the news that affects your customers?",
        ("business", "lifestyle"),
        "Any specific title or source; the point is a habit of following the business "
        "climate and the sectors our customers work in.",
        "What did you last read there that changed your mind?",
    ),
    StarterQuestion(
        "sales-process",
        "How does a large enterprise technology deal get from first contact to signature?",
        ("business",),
        "Qualifying the opportunity and its business drivers, a plan for pursuing it, "
        "leading the team with the customer, agreeing the steps to close and keeping "
        "everyone informed.",
        "Where do deals you have worked on usually stall?",
    ),
    StarterQuestion(
        "hostile-customer",
        "At your first meeting a customer tells you they dislike our company and will not "
        "buy from us. What do you say?",
        ("business", "interpersonal", "maturity"),
        "Curiosity rather than defence: asking what happened to shape that view and what a "
        "good supplier relationship would look like to them.",
        "What would your second meeting with them be about?",
    ),
    StarterQuestion(
        "relationship",
        "Tell me about a business relationship you built from nothing. What came of it?",
        ("business", "interpersonal"),
        "Specific steps: how the candidate met the person, found common ground and kept the "
        "relationship useful to both sides.",
        "Is the relationship still active?",
    ),
)

STARTER_PROFILE_TITLE = "Technical seller"
STARTER_OBJECTIVES = (
    "Win the customer's sponsors and decision makers over to our solutions. "
    "Own the relationships that let us advise customers on getting the most from our "
    "technology. Make sure each customer can run the implementation and reach the value "
    "they bought."
)
STARTER_INTERDEPENDENCE = (
    "Mostly pooled work: the seller joins the team for a pursuit but is paid and judged on "
    "their own contribution, so look for people who drive themselves."
)
STARTER_ATTRIBUTES: tuple[tuple[str, str, int], ...] = (
    (
        "technical",
        "Has implemented several kinds of enterprise solutions in more than one domain",
        3,
    ),
    ("technical", "Knows how large customers run and deploy their IT", 2),
    ("technical", "Follows what is new in our own technology domain", 2),
    ("business", "Understands business models and trends in the sectors we sell to", 3),
    ("business", "Knows how enterprise customers buy", 2),
    (
        "business",
        "Links a technology investment to earning more, spending less or reducing risk",
        3,
    ),
    ("interpersonal", "Leads or influences a pursuit team", 2),
    ("interpersonal", "Holds the room with executives and engineers alike", 3),
    ("interpersonal", "Feeds customer needs back to product development", 1),
    ("lifestyle", "Can travel at short notice for up to half the week", 1),
    ("lifestyle", "Puts in the extra hours a result sometimes needs", 1),
)
