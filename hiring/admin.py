from django.contrib import admin

from hiring.models import JobProfile, ProfileAttribute, Question


class AttributeInline(admin.TabularInline):
    model = ProfileAttribute
    extra = 0


@admin.register(JobProfile)
class JobProfileAdmin(admin.ModelAdmin):
    list_display = ["title", "created_at"]
    inlines = [AttributeInline]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    # Candidates stay out of the back office: their pages apply the privacy rule.
    list_display = ["text", "measures"]
    search_fields = ["text"]
